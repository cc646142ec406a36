"""CANN and driver versions from the files their installers leave, wherever the release put them.

CANN's installer writes `ascend_toolkit_install.info` (`version=8.0.RC2`, `innerversion=…`, `arch=…`) under
`<toolkit>/latest/<arch>-linux/` in older releases and elsewhere in newer ones, and components leave
`version.info` files; the toolkit's `latest` link and `ASCEND_HOME_PATH` / `ASCEND_TOOLKIT_HOME` point
at the release in use. So the files are found by walking from those roots (a few levels, a bounded number
of entries) rather than by a fixed path. The driver's version is `Version=` in `<root>/driver/version.info`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from tui.evidence.fields import found, missing

DEFAULT_ASCEND_ROOT = Path("/usr/local/Ascend")
CANN_HOME_VARS = ("ASCEND_HOME_PATH", "ASCEND_TOOLKIT_HOME")
TOOLKIT_INFO = "ascend_toolkit_install.info"
VERSION_INFO = "version.info"
WALK_DEPTH = 4
WALK_ENTRIES = 5000
"""Directory entries looked at per root: a CANN tree is large, and the info files sit near its top."""
INFO_LIMIT = 64 * 1024
_SKIP_DIRS = frozenset({"opp", "include", "lib64", "python", "tools", "bin", "conf", "fwkacllib", "runtime"})


def read_info(path: Path) -> dict[str, str]:
    """`key=value` lines of an installer's info file (keys lower-cased, quotes stripped); {} if unreadable."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read(INFO_LIMIT)
    except OSError:
        return {}
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.lstrip().startswith("#"):
            values.setdefault(key.strip().lower(), value.strip().strip('"').strip("'"))
    return values


def cann_roots(env: Mapping[str, str], ascend_root: Path) -> list[Path]:
    """Where CANN may live: the environment's homes first, then the toolkit's `latest` link, then the root."""
    roots = [Path(env[name]) for name in CANN_HOME_VARS if env.get(name)]
    roots += [ascend_root / "ascend-toolkit" / "latest", ascend_root / "cann", ascend_root]
    unique: list[Path] = []
    for root in roots:
        if root not in unique:
            unique.append(root)
    return unique


def _walk(root: Path) -> Iterator[Path]:
    """Info files under `root`, breadth first, at most WALK_DEPTH levels and WALK_ENTRIES entries."""
    level = [root]
    seen = 0
    for _depth in range(WALK_DEPTH + 1):
        following: list[Path] = []
        for folder in level:
            try:
                entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
            except OSError:
                continue
            for entry in entries:
                seen += 1
                if seen > WALK_ENTRIES:
                    return
                if entry.name in (TOOLKIT_INFO, VERSION_INFO) and entry.is_file():
                    yield Path(entry.path)
                elif entry.is_dir() and entry.name not in _SKIP_DIRS and entry.name != "driver":
                    following.append(Path(entry.path))
        level = following


def _latest_target(ascend_root: Path) -> str | None:
    link = ascend_root / "ascend-toolkit" / "latest"
    try:
        return os.readlink(link) if link.is_symlink() else None
    except OSError:
        return None


def cann_version(env: Mapping[str, str], ascend_root: Path = DEFAULT_ASCEND_ROOT) -> dict[str, Any]:
    """CANN's release from the toolkit's install info, else a CANN package's `version.info`; null with why."""
    roots = cann_roots(env, ascend_root)
    fallback: tuple[Path, dict[str, str]] | None = None
    for root in roots:
        for path in _walk(root):
            info = read_info(path)
            version = info.get("version")
            if not version:
                continue
            extra = {"innerversion": info.get("innerversion"), "arch": info.get("arch"),
                     "latest_link": _latest_target(ascend_root)}
            if path.name == TOOLKIT_INFO:
                return found(version, str(path), **extra)
            package = info.get("package_name", "").lower()
            if fallback is None and ("toolkit" in package or "cann" in package):
                fallback = (path, info)
    if fallback is not None:
        path, info = fallback
        return found(info["version"], str(path), innerversion=info.get("innerversion"), arch=info.get("arch"),
                     latest_link=_latest_target(ascend_root))
    where = ", ".join(str(root) for root in roots)
    return missing(f"no {TOOLKIT_INFO} or CANN version.info with a version under {where}; "
                   "is the CANN toolkit installed (and set_env.sh sourced)?")


def driver_version(ascend_root: Path = DEFAULT_ASCEND_ROOT) -> dict[str, Any]:
    """The NPU driver's `Version=` from `<root>/driver/version.info`; null with why."""
    path = ascend_root / "driver" / VERSION_INFO
    if not path.is_file():
        return missing(f"{path} does not exist; is the Ascend NPU driver installed on this host?")
    info = read_info(path)
    version = info.get("version") or info.get("package_version")
    if not version:
        return missing(f"{path} holds no Version= line")
    return found(version, str(path), innerversion=info.get("innerversion"))
