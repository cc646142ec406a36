"""Which memory figure a chip's reading stands for: HBM where the chip has it, else its DDR.

The 310 family reports no HBM, only the `Memory-Usage` pair; every screen, check and command
that speaks of "the chip's memory" reads it through these two functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui.devices.snapshot import ChipReading


def chip_memory_used_mb(chip: ChipReading) -> int | None:
    """MB in use: the HBM figure, or the Memory-Usage figure where the chip has no HBM reading."""
    return chip.hbm_used_mb if chip.hbm_used_mb is not None else chip.memory_used_mb


def chip_memory_mb(chip: ChipReading) -> tuple[int | None, int | None]:
    """(used, total) MB: the HBM pair, or the Memory-Usage pair where the chip has no HBM pair at all."""
    if chip.hbm_used_mb is None and chip.hbm_total_mb is None:
        return chip.memory_used_mb, chip.memory_total_mb
    return chip.hbm_used_mb, chip.hbm_total_mb
