"""How a stage Python finds this very `tui` package: PYTHONPATH, and the environment it runs with."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

import tui
from tui.files.xdg import data_home


def package_root() -> Path:
    """The folder that contains the `tui` package: what PYTHONPATH needs for `-m tui.stages.X`."""
    return Path(tui.__file__).resolve().parent.parent


def importable_root(root: Path | None = None) -> Path:
    """A folder to put on the stage Python's PYTHONPATH that holds `tui` and nothing else of ours.

    From an editable install the package root is the repository, which is fine.
    From a regular install it is the console's `site-packages`: putting that on
    the serving environment's path would shadow its torch/torch_npu with builds
    for another interpreter. Then a folder under the data home with one symlink
    `tui` -> the package stands in (the package itself if the link cannot be made).
    """
    root = package_root() if root is None else root
    if root.name not in ("site-packages", "dist-packages"):
        return root
    digest = hashlib.sha256(str(root).encode("utf-8")).hexdigest()[:12]
    shim = data_home() / "stagepath" / digest
    link = shim / "tui"
    try:
        shim.mkdir(parents=True, exist_ok=True)
        if not (link.is_symlink() and link.resolve() == (root / "tui").resolve()):
            if link.is_symlink():
                link.unlink()
            link.symlink_to(root / "tui", target_is_directory=True)
    except OSError:
        return root
    return shim


def stage_env(base: Mapping[str, str] | None, root: Path | None = None) -> dict[str, str]:
    """`base` (the caller's environment; ours when None) made fit for a stage.

    The `tui` folder (`importable_root`) goes first on PYTHONPATH so the stage
    Python imports this very `tui` even when another version is installed there;
    PYTHONUNBUFFERED makes `print` reach us line by line through the pipe.
    """
    env = dict(os.environ if base is None else base)
    existing = env.get("PYTHONPATH", "")
    first = str(importable_root(root))
    parts = [first] + [part for part in existing.split(os.pathsep) if part and part != first]
    env["PYTHONPATH"] = os.pathsep.join(parts)
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("PYTHONIOENCODING", "utf-8")
    return env
