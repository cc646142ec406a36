"""Reading `npu-smi info -t usages -i N`: per-chip utilization rates and capacities.

The output is `key : value` lines (`\\t%-30s : %s` in the tool; pastes turn
the TAB into spaces or drop it), NPU-level keys first (`NPU ID`, `Chip Count`),
then one block per chip that *ends* with `Chip ID` (in `-t common` the block
starts with it instead; both are read). Keys differ by chip and driver, so
known keys are matched case- and space-insensitively and the rest are kept as
printed. An MCU block (`Chip Name : mcu`) is not a chip and is skipped.
"""

from __future__ import annotations

from typing import Any

from tui.devices.snapshot import ChipUsage

#: Normalised key (lowercase, no spaces) → ChipUsage field.
KNOWN_KEYS = {
    "aicoreusagerate(%)": "aicore_pct",
    "aivectorusagerate(%)": "aivector_pct",
    "aicubeusagerate(%)": "aicube_pct",
    "aicpuusagerate(%)": "aicpu_pct",
    "ctrlcpuusagerate(%)": "ctrlcpu_pct",
    "vectorcoreusagerate(%)": "vectorcore_pct",
    "npuutilization(%)": "npu_util_pct",
    "ddrcapacity(mb)": "ddr_capacity_mb",
    "ddrusagerate(%)": "ddr_usage_pct",
    "ddrhugepagestotal(page)": "ddr_hugepages_total",
    "ddrhugepagesusagerate(%)": "ddr_hugepages_usage_pct",
    "ddrbandwidthusagerate(%)": "ddr_bandwidth_pct",
    "hbmcapacity(mb)": "hbm_capacity_mb",
    "hbmusagerate(%)": "hbm_usage_pct",
    "hbmbandwidthusagerate(%)": "hbm_bandwidth_pct",
}
_NPU_LEVEL = frozenset({"npuid", "chipcount"})
_MISSING = frozenset({"NA", "N/A", "-", ""})


def _norm(key: str) -> str:
    return "".join(key.split()).lower()


def _first_int(value: str) -> int | None:
    """The leading number of a value (`35   ← annotated paste` reads as 35); None for NA or words."""
    head = value.split(maxsplit=1)[0] if value.strip() else ""
    if head in _MISSING:
        return None
    try:
        return int(head)
    except ValueError:
        return None


class _Block:
    __slots__ = ("chip", "mcu", "other", "values")

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.other: dict[str, str] = {}
        self.chip: int | None = None
        self.mcu = False

    @property
    def empty(self) -> bool:
        return not self.values and not self.other and not self.mcu


def parse_npu_smi_usages(text: str, warnings: list[str] | None = None) -> list[ChipUsage]:
    """One ChipUsage per chip block, in output order. Never raises; unreadable lines go to `warnings`."""
    notes: list[str] = warnings if warnings is not None else []
    usages: list[ChipUsage] = []
    npu: int | None = None
    block = _Block()

    def flush() -> None:
        nonlocal block
        if not block.empty and not block.mcu:
            usages.append(ChipUsage(npu=npu, chip=block.chip, other=block.other, **block.values))
        block = _Block()

    try:
        for raw in text.splitlines():
            line = raw.strip()
            if not line:
                if block.chip is not None:
                    flush()
                continue
            key, sep, value = line.partition(" : ")
            if not sep:
                key, sep, value = line.partition(":")
            if not sep:
                notes.append(line)
                continue
            norm = _norm(key)
            value = value.strip()
            if norm == "npuid":
                flush()
                npu = _first_int(value)
            elif norm in _NPU_LEVEL:
                continue
            elif norm == "chipid":
                starts_block = block.empty  # `-t common` starts a block with it, `-t usages` ends one
                block.chip = _first_int(value)
                if not starts_block:
                    flush()
            elif norm == "chipname":
                block.mcu = value.lower() == "mcu"
                block.other[key.strip()] = value
            elif norm in KNOWN_KEYS:
                block.values[KNOWN_KEYS[norm]] = _first_int(value)
            else:
                block.other[key.strip()] = value
        flush()
    except Exception as exc:  # never raise on input; keep what was read
        notes.append(f"npu-console could not read the usages output ({type(exc).__name__}: {exc})")
    return usages
