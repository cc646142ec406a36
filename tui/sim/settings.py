"""Every environment variable the simulation reads, in one place.

The simulated programs are started by the console (or a test) as ordinary
subprocesses, so the environment is the only channel for knobs such as "start
instantly" or "crash mid-stream". Keeping the names and their parsing here means
the demo helper, the tests and the programs cannot drift apart.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SIM_HOME_ENV = "NPU_CONSOLE_SIM_HOME"
"""Folder holding `host.json` and `servers/`; unset means a default idle host with no state."""

SPEED_ENV = "NPU_CONSOLE_SIM_SPEED"
"""Multiplier on every simulated delay: 1.0 looks real (~15 s start), 0 is instant."""

TTFT_MS_ENV = "NPU_CONSOLE_SIM_TTFT_MS"
"""Base time to first token in ms (default 50); prefill adds a share per prompt token."""

TPOT_MS_ENV = "NPU_CONSOLE_SIM_TPOT_MS"
"""Time per output token in ms (default 15)."""

FAULT_ENV = "NPU_CONSOLE_SIM_FAULT"
"""Comma-separated faults to inject: `startup`, `die-midstream`."""

ERROR_SHAPE_ENV = "NPU_CONSOLE_SIM_ERROR_SHAPE"
"""`nested` (vLLM >= 0.10.1, default) or `flat` (older vLLM) error bodies."""

REASONING_FIELD_ENV = "NPU_CONSOLE_SIM_REASONING_FIELD"
"""Which delta/message field carries reasoning: `both` (default), `reasoning`, `reasoning_content`."""

FROZEN_ENV = "NPU_CONSOLE_SIM_FROZEN"
"""Any value but `0`: a fixed wall clock, no sensor wobble, fixed ids (SVG screenshots, snapshots)."""

FROZEN_EPOCH = 1_753_157_115.0
"""The moment a frozen simulation lives in (22 July 2025, the date of the real fixture 001)."""

FAULT_HEADER = "x-sim-fault"
"""Per-request fault header (`die-midstream` or `error-500`), lower-cased as the server stores it."""

FAULT_STARTUP = "startup"
FAULT_DIE_MIDSTREAM = "die-midstream"
FAULT_ERROR_500 = "error-500"

DEFAULT_TTFT_MS = 50.0
DEFAULT_TPOT_MS = 15.0


@dataclass(frozen=True)
class SimSettings:
    """The knobs, parsed once at program start."""

    home: Path | None
    speed: float
    ttft_ms: float
    tpot_ms: float
    faults: frozenset[str]
    error_shape: str
    reasoning_field: str

    def delay(self, nominal_s: float) -> float:
        """Seconds to really wait for a phase that nominally takes `nominal_s`."""
        return max(0.0, nominal_s * self.speed)


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    """A non-negative float from `env`, or `default` when unset or unreadable."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        return default
    return value if value >= 0 else default


def frozen(env: Mapping[str, str] | None = None) -> bool:
    """True when `NPU_CONSOLE_SIM_FROZEN` asks for a repeatable simulation."""
    return (env if env is not None else os.environ).get(FROZEN_ENV, "").strip() not in ("", "0")


def wall_time() -> float:
    """Seconds since the epoch for everything the sim prints; fixed when frozen."""
    return FROZEN_EPOCH if frozen() else time.time()


def sim_home(env: Mapping[str, str] | None = None) -> Path | None:
    """The simulated host's folder from `NPU_CONSOLE_SIM_HOME`, or None when unset."""
    raw = (env if env is not None else os.environ).get(SIM_HOME_ENV, "").strip()
    return Path(raw) if raw else None


def load_settings(env: Mapping[str, str] | None = None) -> SimSettings:
    """Read every knob from `env` (default: the process environment)."""
    source = env if env is not None else os.environ
    faults = frozenset(part.strip().lower() for part in source.get(FAULT_ENV, "").split(",") if part.strip())
    error_shape = source.get(ERROR_SHAPE_ENV, "nested").strip().lower()
    reasoning_field = source.get(REASONING_FIELD_ENV, "both").strip().lower()
    return SimSettings(
        home=sim_home(source),
        speed=_float(source, SPEED_ENV, 1.0),
        ttft_ms=_float(source, TTFT_MS_ENV, DEFAULT_TTFT_MS),
        tpot_ms=_float(source, TPOT_MS_ENV, DEFAULT_TPOT_MS),
        faults=faults,
        error_shape=error_shape if error_shape in ("nested", "flat") else "nested",
        reasoning_field=(reasoning_field if reasoning_field in ("both", "reasoning", "reasoning_content") else "both"),
    )
