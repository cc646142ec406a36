"""The operating system and the CPU, from the files Linux keeps them in."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

from tui.evidence.fields import found, missing

READ_LIMIT = 1024 * 1024
ARM_PARTS = {("0x48", "0xd01"): "HiSilicon Kunpeng-920", ("0x48", "0xd02"): "HiSilicon Kunpeng-930"}
"""ARM cores name no model in /proc/cpuinfo; the implementer and part ids do (from the kernel's cputable)."""


def _read(path: Path) -> str | None:
    if not path.is_file():  # a FIFO or a device in its place must not hang the capture
        return None
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read(READ_LIMIT)
    except OSError:
        return None


def os_release(root: Path = Path("/")) -> dict[str, Any]:
    """PRETTY_NAME of /etc/os-release (or /usr/lib/os-release), with the kernel release beside it."""
    for relative in ("etc/os-release", "usr/lib/os-release"):
        path = root / relative
        text = _read(path)
        if text is None:
            continue
        values = {}
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                values[key.strip()] = value.strip().strip('"')
        name = values.get("PRETTY_NAME") or " ".join(filter(None, (values.get("NAME"), values.get("VERSION"))))
        if name:
            return found(name, str(path), kernel=platform.release() or None)
    return missing("neither /etc/os-release nor /usr/lib/os-release could be read", kernel=platform.release() or None)


def cpu_model(root: Path = Path("/")) -> dict[str, Any]:
    """The CPU's model name from /proc/cpuinfo (ARM: implementer and part), the logical CPU count, the arch."""
    path = root / "proc" / "cpuinfo"
    text = _read(path)
    extra = {"logical_cpus": os.cpu_count(), "arch": platform.machine() or None}
    if text is None:
        return missing(f"{path} could not be read", **extra)
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            values.setdefault(key.strip().lower(), value.strip())
    name = values.get("model name") or values.get("hardware")
    if name:
        return found(name, str(path), **extra)
    part = ARM_PARTS.get((values.get("cpu implementer", ""), values.get("cpu part", "")))
    if part:
        return found(part, f"{path} (CPU implementer and part)", **extra)
    return missing(f"{path} names no CPU model", **extra)
