"""What the simulated chips read right now: HBM, utilization, power, temperature.

HBM used is the chip's idle baseline plus whatever the registered processes
hold. Utilization is what those processes report. Power follows utilization at
once (as it does on a 910B), temperature follows it with a lag of about half a
minute; to get that lag across separate `npu-smi` runs the last temperatures are
kept in `sensors.json` next to `host.json`. Small wobbles keep an idle table from
looking frozen without making tests flaky: they never move HBM or utilization
of an idle chip.
"""

from __future__ import annotations

import contextlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

from tui.files.atomic import atomic_write_json
from tui.sim.host import ChipSpec, HostSpec, live_records, read_host
from tui.sim.settings import frozen, wall_time

SENSORS_FILE = "sensors.json"
TEMP_TIME_CONSTANT_S = 30.0
WATTS_PER_UTIL_PCT = 1.9
DEGREES_PER_UTIL_PCT = 0.22


@dataclass(frozen=True)
class ChipReading:
    """One chip's row pair in `npu-smi info`."""

    spec: ChipSpec
    health: str
    power_w: float
    temp_c: int
    aicore_pct: int
    hbm_used_mb: int
    hugepages_used: int = 0
    hugepages_total: int = 0


@dataclass(frozen=True)
class ProcessReading:
    """One row of the `npu-smi info` process table."""

    npu_id: int
    chip_id: int
    pid: int
    name: str
    memory_mb: int


@dataclass(frozen=True)
class HostReading:
    """Everything one `npu-smi` run prints."""

    spec: HostSpec
    chips: tuple[ChipReading, ...]
    processes: tuple[ProcessReading, ...]

    def chip(self, npu_id: int) -> ChipReading | None:
        for reading in self.chips:
            if reading.spec.npu_id == npu_id:
                return reading
        return None


def _wobble(seed: int, now: float, amplitude: float, period_s: float) -> float:
    """A smooth, deterministic drift in [-amplitude, amplitude], different per chip."""
    return amplitude * math.sin(2 * math.pi * now / period_s + seed * 1.7)


def _load_temps(home: Path | None) -> dict[str, list[float]]:
    if home is None:
        return {}
    try:
        data = json.loads((home / SENSORS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _lagged_temp(previous: list[float] | None, target: float, now: float) -> float:
    """Move from the last stored temperature towards `target` with a first-order lag."""
    if not previous or len(previous) != 2:
        return target
    last_temp, last_time = float(previous[0]), float(previous[1])
    elapsed = max(0.0, now - last_time)
    return target + (last_temp - target) * math.exp(-elapsed / TEMP_TIME_CONSTANT_S)


def read_host_state(home: Path | None, now: float | None = None) -> HostReading:
    """Read `host.json` and the live server records and compute every chip's values.

    Works without a home (default idle host) and never raises for missing or
    broken files, because `npu-smi` must always print a table.
    """
    moment = wall_time() if now is None else now
    repeatable = frozen()
    spec = read_host(home)
    records = live_records(home)
    held: dict[int, int] = {}
    util: dict[int, int] = {}
    processes: list[ProcessReading] = []
    for record in records:
        for logic_id in record.chips:
            chip = spec.chip_by_logic_id(logic_id)
            if chip is None:
                continue
            held[logic_id] = held.get(logic_id, 0) + max(0, record.hbm_mb)
            util[logic_id] = util.get(logic_id, 0) + max(0, record.util_pct)
            if record.hbm_mb > 0:
                processes.append(ProcessReading(chip.npu_id, chip.chip_id, record.pid, record.name[:15], record.hbm_mb))
    temps = {} if repeatable else _load_temps(home)
    new_temps: dict[str, list[float]] = {}
    readings: list[ChipReading] = []
    for chip in spec.chips:
        busy = min(100, util.get(chip.logic_id, 0))
        if busy > 0:
            busy = max(1, min(100, round(busy + _wobble(chip.logic_id, moment, 3.0, 7.0))))
        power = chip.idle_power_w + WATTS_PER_UTIL_PCT * busy + _wobble(chip.logic_id, moment, 1.2, 23.0)
        target_temp = chip.idle_temp_c + DEGREES_PER_UTIL_PCT * busy
        temp = _lagged_temp(temps.get(str(chip.logic_id)), target_temp, moment)
        new_temps[str(chip.logic_id)] = [temp, moment]
        hbm_used = min(chip.hbm_total_mb, chip.baseline_hbm_mb + held.get(chip.logic_id, 0))
        readings.append(
            ChipReading(
                spec=chip,
                health="OK",
                power_w=round(power, 1),
                temp_c=round(temp),
                aicore_pct=busy,
                hbm_used_mb=hbm_used,
            )
        )
    if home is not None and not repeatable and (home / "host.json").exists():
        with contextlib.suppress(OSError):
            atomic_write_json(home / SENSORS_FILE, new_temps)
    processes.sort(key=lambda p: (p.npu_id, p.chip_id, p.pid))
    return HostReading(spec, tuple(readings), tuple(processes))
