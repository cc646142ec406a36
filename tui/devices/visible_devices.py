"""Reading `ASCEND_RT_VISIBLE_DEVICES` (and `CUDA_VISIBLE_DEVICES`): which logic ids a server will use."""

from __future__ import annotations

from collections.abc import Mapping

VISIBLE_DEVICE_VARS = ("ASCEND_RT_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES")


def parse_visible_devices(value: str) -> tuple[int, ...] | None:
    """`"0,1, 3"` → (0, 1, 3); None when any entry is not a non-negative integer.

    Duplicates are kept, in order: whether they are allowed is for the caller to judge.
    """
    entries = [entry.strip() for entry in value.split(",")]
    if not value.strip() or not all(entry.isdigit() for entry in entries):
        return None
    return tuple(int(entry) for entry in entries)


def visible_devices(env: Mapping[str, str]) -> tuple[int, ...] | None:
    """The logic ids named by the first visible-devices variable set in `env`, None when none is set."""
    for name in VISIBLE_DEVICE_VARS:
        if name in env:
            return parse_visible_devices(env[name])
    return None
