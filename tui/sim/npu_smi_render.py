"""Text of the simulated `npu-smi` outputs, byte for byte in the real 910B layouts.

The table is the 98-column layout that driver versions 22.x to 25.x print on
910B hosts (fixtures 001, 026): fixed cell widths, `used / total` pairs whose
padding shrinks as the number grows (`3318 / 65536`, `29954/ 65536`), `+===`
after every card, and the process table with one `No running processes found in
NPU n` row per idle NPU. Key/value outputs use the tool's `\\t%-30s : %s` lines.
Rendering is kept apart from reading the host so both can be tested alone.
"""

from __future__ import annotations

from tui.sim.host import HostSpec
from tui.sim.telemetry import ChipReading, HostReading, ProcessReading

TABLE_WIDTH = 98
_CELL_WIDTHS = (27, 15, 52)

BORDER = "+" + "-" * (TABLE_WIDTH - 2) + "+"
CELL_BORDER = "+" + "+".join("-" * w for w in _CELL_WIDTHS) + "+"
CARD_SEPARATOR = "+" + "+".join("=" * w for w in _CELL_WIDTHS) + "+"

DEVICE_HEADER = (
    "| NPU   Name                | Health        | Power(W)    Temp(C)           Hugepages-Usage(page)|",
    "| Chip                      | Bus-Id        | AICore(%)   Memory-Usage(MB)  HBM-Usage(MB)        |",
)
PROCESS_HEADER = "| NPU     Chip              | Process id    | Process name             | Process memory(MB)      |"


def _pair(used: int, total: int, width: int) -> str:
    """`used / total` as npu-smi pads it: used left-aligned in 5, then `/ `, total padded to `width`."""
    return f"{used:<5}/ {total:<{width}}"


def _row(first: str, second: str, third: str) -> str:
    return f"| {first:<26}| {second:<14}| {third:<51}|"


def _chip_rows(reading: ChipReading) -> list[str]:
    chip = reading.spec
    top = _row(
        f"{chip.npu_id:<6}{chip.name}",
        reading.health,
        f"{reading.power_w:<12.1f}{reading.temp_c:<18}" + _pair(reading.hugepages_used, reading.hugepages_total, 14),
    )
    bottom = _row(
        f"{chip.chip_id}",
        chip.bus_id,
        f"{reading.aicore_pct:<12}" + _pair(0, 0, 11) + _pair(reading.hbm_used_mb, chip.hbm_total_mb, 14),
    )
    return [top, bottom]


def _process_row(process: ProcessReading) -> str:
    return (
        f"| {process.npu_id:<8}{process.chip_id:<17} | {process.pid:<13} "
        f"| {process.name:<24} | {process.memory_mb:<23} |"
    )


def render_info(reading: HostReading) -> str:
    """The full `npu-smi info` output: version box, device table, process table."""
    spec = reading.spec
    lines = [
        BORDER,
        f"| npu-smi {spec.tool_version:<25}Version: {spec.driver_version:<53}|",
        CELL_BORDER,
        *DEVICE_HEADER,
        CARD_SEPARATOR,
    ]
    for chip_reading in reading.chips:
        lines.extend(_chip_rows(chip_reading))
        lines.append(CARD_SEPARATOR)
    lines.extend([CELL_BORDER, PROCESS_HEADER, CARD_SEPARATOR])
    npu_ids = sorted({chip.spec.npu_id for chip in reading.chips})
    for npu_id in npu_ids:
        rows = [p for p in reading.processes if p.npu_id == npu_id]
        if rows:
            lines.extend(_process_row(p) for p in rows)
        else:
            lines.append(f"| {f'No running processes found in NPU {npu_id}':<95}|")
        lines.append(CARD_SEPARATOR)
    return "\n".join(lines) + "\n"


def render_mapping(spec: HostSpec) -> str:
    """`npu-smi info -m`: NPU id, chip id, logic id and name per chip, plus each card's Mcu row."""
    lines = [f"\t{'NPU ID':<31}{'Chip ID':<31}{'Chip Logic ID':<31}{'Chip Name':<30}"]
    for chip in spec.chips:
        lines.append(f"\t{chip.npu_id:<31}{chip.chip_id:<31}{chip.logic_id:<31}Ascend {chip.name}")
        lines.append(f"\t{chip.npu_id:<31}{chip.chip_id + 1:<31}{'-':<31}{'Mcu':<30}")
    return "\n".join(lines) + "\n"


def _kv(key: str, value: object) -> str:
    return f"\t{key:<30} : {value}"


def render_list(spec: HostSpec) -> str:
    """`npu-smi info -l`: the card count, then one block per NPU."""
    npu_ids = sorted({chip.npu_id for chip in spec.chips})
    blocks = [_kv("Total Count", len(npu_ids))]
    for npu_id in npu_ids:
        count = sum(1 for chip in spec.chips if chip.npu_id == npu_id)
        blocks.append("\n".join([_kv("NPU ID", npu_id), _kv("Chip Count", count)]))
    return "\n\n".join(blocks) + "\n"


def render_usages(reading: ChipReading) -> str:
    """`npu-smi info -t usages -i N`: the 910B key set of driver 25.x (fixture 029)."""
    chip = reading.spec
    hbm_rate = round(100 * reading.hbm_used_mb / chip.hbm_total_mb) if chip.hbm_total_mb else 0
    busy = reading.aicore_pct
    body = [
        _kv("DDR Capacity(MB)", 0),
        _kv("DDR Usage Rate(%)", 0),
        _kv("DDR Hugepages Total(page)", reading.hugepages_total),
        _kv("DDR Hugepages Usage Rate(%)", 0),
        _kv("HBM Capacity(MB)", chip.hbm_total_mb),
        _kv("HBM Usage Rate(%)", hbm_rate),
        _kv("Aicore Usage Rate(%)", busy),
        _kv("Aivector Usage Rate(%)", round(busy * 0.6)),
        _kv("Aicpu Usage Rate(%)", 0),
        _kv("Ctrlcpu Usage Rate(%)", 6 if busy == 0 else min(100, 6 + busy // 10)),
        _kv("DDR Bandwidth Usage Rate(%)", 0),
        _kv("HBM Bandwidth Usage Rate(%)", round(busy * 0.45)),
        _kv("NPU Utilization(%)", busy),
        _kv("Aicube Usage Rate(%)", busy),
        _kv("Chip ID", chip.chip_id),
    ]
    return _npu_header(chip.npu_id) + "\n" + "\n".join(body) + "\n"


def render_temp(reading: ChipReading) -> str:
    """`npu-smi info -t temp -i N` (fixture 031), with the MCU sensor block."""
    chip = reading.spec
    return (
        _npu_header(chip.npu_id)
        + "\n"
        + "\n".join([_kv("NPU Temperature (C)", reading.temp_c), _kv("Chip ID", chip.chip_id)])
        + "\n\n"
        + "\n".join(
            [
                _kv("LM75A_TE (C)", reading.temp_c - 3),
                _kv("LM75B_TE (C)", reading.temp_c - 3),
                _kv("Chip Name", "MCU"),
            ]
        )
        + "\n"
    )


def render_power(reading: ChipReading) -> str:
    """`npu-smi info -t power -i N` (fixture 032)."""
    chip = reading.spec
    return (
        _npu_header(chip.npu_id)
        + "\n"
        + "\n".join([_kv("NPU Real-time Power(W)", f"{reading.power_w:.1f}"), _kv("Chip ID", chip.chip_id)])
        + "\n"
    )


def render_health(reading: ChipReading) -> str:
    """`npu-smi info -t health -i N` (fixture 044)."""
    return (
        "\n".join([_kv("Health Status", reading.health), _kv("Error Code", "NA"), _kv("Error Information", "NA")])
        + "\n"
    )


def _npu_header(npu_id: int) -> str:
    return "\n".join([_kv("NPU ID", npu_id), _kv("Chip Count", 1)]) + "\n"
