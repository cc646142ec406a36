"""Where npu-console keeps things on disk, by the XDG base directory rules."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "npu-console"


def _base(var: str, fallback: str) -> Path:
    value = os.environ.get(var, "").strip()
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / fallback


def config_home() -> Path:
    """`$XDG_CONFIG_HOME/npu-console` (default `~/.config/npu-console`)."""
    return _base("XDG_CONFIG_HOME", ".config") / APP_NAME


def data_home() -> Path:
    """`$XDG_DATA_HOME/npu-console` (default `~/.local/share/npu-console`)."""
    return _base("XDG_DATA_HOME", ".local/share") / APP_NAME


def default_runs_dir() -> Path:
    """The root under which each console session gets its run directory."""
    return data_home() / "runs"


def cache_home() -> Path:
    """`$XDG_CACHE_HOME/npu-console` (default `~/.cache/npu-console`): things that can be asked for again."""
    return _base("XDG_CACHE_HOME", ".cache") / APP_NAME
