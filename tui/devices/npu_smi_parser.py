"""Reading what `npu-smi` prints: the `info` table, the `-m` mapping, the `-t usages` blocks.

These are the entry points; the work is in `npu_smi_table` (the table state
machine), `npu_smi_cells` (cells and values), `npu_smi_mapping`,
`npu_smi_messages` (errors and warnings) and `npu_smi_usages`.

The parsers never raise on their input. The console polls npu-smi every few
seconds for hours, on drivers nobody tested, and operators paste outputs that
editors have mangled; a parser that throws would blank the device panel.
Whatever cannot be read goes to `warnings`, and a failure of the parser itself
(a bug) becomes a warning too, with everything read up to that line kept.
"""

from __future__ import annotations

from tui.devices.npu_smi_table import BACKEND, InfoTableParser
from tui.devices.npu_smi_usages import parse_npu_smi_usages
from tui.devices.snapshot import DeviceSnapshot

__all__ = ["BACKEND", "parse_npu_smi_info", "parse_npu_smi_mapping", "parse_npu_smi_usages"]


def parse_npu_smi_info(text: str) -> DeviceSnapshot:
    """The snapshot of one `npu-smi info` output (any layout; a `-m` mapping in it is read too)."""
    return _run(InfoTableParser(), text)


def parse_npu_smi_mapping(text: str) -> DeviceSnapshot:
    """The snapshot of one `npu-smi info -m` output: `mapping` filled, Mcu rows with `logic_id` None.

    Rows are read even when the paste lost the header line (the standard four columns are assumed).
    """
    return _run(InfoTableParser(expect_mapping=True), text)


def _run(parser: InfoTableParser, text: str) -> DeviceSnapshot:
    number = 0
    try:
        for number, line in enumerate(text.splitlines(), start=1):  # noqa: B007 (kept for the message)
            parser.feed(line)
    except Exception as exc:  # a parser bug must not blank the panel; say where it happened
        parser.warnings.append(f"npu-console could not read line {number} ({type(exc).__name__}: {exc})")
    try:
        return parser.finish()
    except Exception as exc:
        return DeviceSnapshot(
            backend=BACKEND, warnings=(*parser.warnings, f"npu-console could not read the output ({exc})")
        )
