"""The device snapshot: one reading of every chip, as immutable values.

These types are the contract between whoever reads the devices (the npu-smi
and nvidia-smi parsers, the replay backend) and whoever shows them (the
poller, the device panel, `npu-console smi --json`). Field order follows the
JSON in CONTRACTS.md (`npu-console smi`), so `to_json_dict()` can be built by
walking the fields and the printed object keeps the documented key order.

A value the tool did not print is None, never 0: a 310P prints `NA` for power,
an A3's second die prints `-`, a paste can cut a table in half. The panel shows
None as `N/A`; a 0 would be a lie.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

JsonDict = dict[str, Any]


def _as_json(value: object) -> JsonDict:
    """The dataclass's fields in declaration order (cheaper than `asdict`, no deep copy needed)."""
    return {item.name: getattr(value, item.name) for item in fields(value)}  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class ChipReading:
    """One chip (one die of an A3, one chip of a 300I Duo) from its two table rows.

    `util_pct` is the utilization column as printed (`AICore(%)`, or `NPU Util(%)`
    on the 950). `memory_*` is the Memory-Usage pair (DDR on 310/910A, `0 / 0`
    on 910B/A3/950); `hbm_*` the HBM pair, None on layouts without one.
    `phy_id` comes only from the A3 `Chip  Phy-ID` column.
    """

    npu: int
    chip: int | None
    phy_id: int | None
    name: str | None
    health: str | None
    power_w: float | None
    temp_c: int | None
    hugepages_used: int | None
    hugepages_total: int | None
    bus_id: str | None
    util_pct: int | None
    memory_used_mb: int | None
    memory_total_mb: int | None
    hbm_used_mb: int | None
    hbm_total_mb: int | None

    def to_json_dict(self) -> JsonDict:
        return _as_json(self)


@dataclass(frozen=True, slots=True)
class DeviceProcess:
    """One row of the process table. `name` is "" when the tool printed none (another namespace)."""

    npu: int
    chip: int | None
    pid: int
    container_pid: int | None
    name: str | None
    memory_mb: int | None

    def to_json_dict(self) -> JsonDict:
        return _as_json(self)


@dataclass(frozen=True, slots=True)
class ChipMapping:
    """One row of `npu-smi info -m`: which logic id (the `ASCEND_RT_VISIBLE_DEVICES` number) a chip has.

    Mcu rows are kept, with `logic_id` None, so the list matches the tool's output row for row.
    """

    npu: int
    chip: int
    logic_id: int | None
    name: str

    def to_json_dict(self) -> JsonDict:
        return _as_json(self)


@dataclass(frozen=True, slots=True)
class DeviceSnapshot:
    """Everything one read of the device tool gave.

    `error` is the line that says why there is no table (verbatim from the tool,
    or a sentence of ours when the tool could not be run or did not answer);
    `warnings` are lines kept but not understood, and the driver's `[WARNING]` line.
    """

    backend: str
    tool_version: str | None = None
    driver_version: str | None = None
    chips: tuple[ChipReading, ...] = ()
    processes: tuple[DeviceProcess, ...] = ()
    mapping: tuple[ChipMapping, ...] = ()
    warnings: tuple[str, ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the read gave no error (it may still have warnings, or no chips)."""
        return self.error is None

    def to_json_dict(self) -> JsonDict:
        """Exactly the object `npu-console smi --json` prints (CONTRACTS.md), keys in contract order."""
        return {
            "backend": self.backend,
            "tool_version": self.tool_version,
            "driver_version": self.driver_version,
            "chips": [chip.to_json_dict() for chip in self.chips],
            "processes": [process.to_json_dict() for process in self.processes],
            "mapping": [row.to_json_dict() for row in self.mapping],
            "warnings": list(self.warnings),
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class ChipUsage:
    """One chip's block of `npu-smi info -t usages -i N`, percentages and capacities as printed.

    Keys differ by chip and driver (310P adds Vectorcore and DVPP rates, newer
    drivers add Aivector, Aicube and NPU Utilization), so every key we do not name
    is kept, as printed, in `other`. A key that is absent or `NA` is None.
    """

    npu: int | None
    chip: int | None
    aicore_pct: int | None = None
    aivector_pct: int | None = None
    aicube_pct: int | None = None
    aicpu_pct: int | None = None
    ctrlcpu_pct: int | None = None
    vectorcore_pct: int | None = None
    npu_util_pct: int | None = None
    ddr_capacity_mb: int | None = None
    ddr_usage_pct: int | None = None
    ddr_hugepages_total: int | None = None
    ddr_hugepages_usage_pct: int | None = None
    ddr_bandwidth_pct: int | None = None
    hbm_capacity_mb: int | None = None
    hbm_usage_pct: int | None = None
    hbm_bandwidth_pct: int | None = None
    other: Mapping[str, str] = field(default_factory=dict, hash=False)

    def to_json_dict(self) -> JsonDict:
        data = _as_json(self)
        data["other"] = dict(self.other)
        return data
