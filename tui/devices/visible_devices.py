"""Reading `ASCEND_RT_VISIBLE_DEVICES` (and `CUDA_VISIBLE_DEVICES`): which logic ids a server will use.

One rule for the preflight, the launch's memory check and the Devices area's selected chips: the
runtime's own variable (`visible_variable`), read from the *expanded* environment the server gets
(the inherited environment, the sourced files, then the profile's variables with `${VAR}` expanded),
never from the profile's variables as written.
"""

from __future__ import annotations

from collections.abc import Mapping


def parse_visible_devices(value: str) -> tuple[int, ...] | None:
    """`"0,1, 3"` → (0, 1, 3); None when any entry is not a non-negative integer.

    Duplicates are kept, in order: whether they are allowed is for the caller to judge.
    """
    entries = [entry.strip() for entry in value.split(",")]
    if not value.strip() or not all(entry.isdigit() for entry in entries):
        return None
    return tuple(int(entry) for entry in entries)


def visible_variable(runtime: str) -> str:
    """The variable that picks chips: CUDA's for plain vLLM on NVIDIA, Ascend's for the rest."""
    return "CUDA_VISIBLE_DEVICES" if runtime == "vllm" else "ASCEND_RT_VISIBLE_DEVICES"


def visible_devices(env: Mapping[str, str], runtime: str) -> tuple[int, ...] | None:
    """The logic ids the runtime's variable names in the expanded `env`; None when it is unset or unreadable."""
    raw = env.get(visible_variable(runtime))
    return parse_visible_devices(raw) if raw is not None else None
