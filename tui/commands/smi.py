"""`npu-console smi [--file F | --backend auto|npu|nvidia|replay] [--json]`: device telemetry from the shell.

The same parsers and backends that feed the device panel, so an operator can
check what the console will show (or attach `--json` to a bug report) without
opening the TUI, and so a saved `npu-smi info` paste can be read anywhere.
Exit status (CONTRACTS.md): 0 a snapshot without error, 1 the tool ran (or the
saved output shows it ran) and reported an error, 2 bad usage, an unreadable
file (a device or FIFO, more than 16 MiB, or nothing of npu-smi's in it) or no
tool; every non-zero exit says why on stderr in one sentence.
The device modules are imported inside `run`, so `--help` stays cheap.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from tui.devices.chip_memory import chip_memory_mb
from tui.formatting import or_na

if TYPE_CHECKING:
    from tui.devices.snapshot import ChipReading, DeviceSnapshot

EXIT_OK = 0
EXIT_TOOL_ERROR = 1
EXIT_BAD_INPUT = 2
DEFAULT_TIMEOUT_S = 10.0
MAX_SAVED_BYTES = 16 << 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `smi` options to its subparser."""
    parser.description = parser.description or (
        "Read the devices once, as the console's device panel does: run npu-smi (or nvidia-smi), or parse a "
        "saved `npu-smi info` / `npu-smi info -m` / nvidia-smi CSV output, and print the chips and processes."
    )
    parser.add_argument(
        "--file", metavar="F", default=None,
        help="parse this saved output instead of running a tool (--backend replay reads it the same way)",
    )
    parser.add_argument(
        "--backend", choices=("auto", "npu", "nvidia", "replay"), default=None,
        help="which tool to run (default auto: npu-smi, else nvidia-smi)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object (the contract's snapshot)")
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="S",
        help=f"give the tool this many seconds before giving up (default {DEFAULT_TIMEOUT_S:g})",
    )


def run(args: argparse.Namespace) -> int:
    """Take one snapshot as the options say, print it, and return the exit status."""
    file: str | None = getattr(args, "file", None)
    backend: str | None = getattr(args, "backend", None)
    as_json = bool(getattr(args, "json", False))
    given_timeout = getattr(args, "timeout", None)
    timeout = DEFAULT_TIMEOUT_S if given_timeout is None else float(given_timeout)
    if file and backend not in (None, "replay"):
        return _usage(f"--file reads a saved output and --backend {backend} runs a tool; choose one of them")
    if backend == "replay" and not file:
        return _usage("--backend replay plays a saved output back; give it with --file F")
    if timeout <= 0:
        return _usage("--timeout must be a positive number of seconds")
    if file:
        snapshot = _read_file(file)
        if isinstance(snapshot, str):
            print(f"npu-console smi: {snapshot}", file=sys.stderr)
            return EXIT_BAD_INPUT
    else:
        picked = _take_snapshot(backend or "auto", timeout)
        if isinstance(picked, str):
            print(f"npu-console smi: {picked}", file=sys.stderr)
            return EXIT_BAD_INPUT
        snapshot = picked
    if as_json:
        print(json.dumps(snapshot.to_json_dict(), indent=2, ensure_ascii=False))
    else:
        print_table(snapshot, sys.stdout)
    if snapshot.error is not None:
        print(f"npu-console smi: {snapshot.backend} reported an error: {snapshot.error}", file=sys.stderr)
        return EXIT_TOOL_ERROR
    return EXIT_OK


def _usage(sentence: str) -> int:
    print(f"npu-console smi: {sentence}.", file=sys.stderr)
    return EXIT_BAD_INPUT


def _read_file(path: str) -> DeviceSnapshot | str:
    """The snapshot of a saved output, or the sentence saying why the file could not be read.

    Only a regular file is read (a device or a FIFO is refused), line by line with
    each line cut at 64 Ki characters, and at most `MAX_SAVED_BYTES`: no npu-smi
    output comes near that, so a bigger file is refused rather than held in memory.
    """
    from tui.devices.backends import parse_saved_output
    from tui.files.bounded_input import BoundedLines, InputError, open_regular

    blocks: list[str] = []
    try:
        with open_regular(path) as handle:
            lines = BoundedLines(handle, max_bytes=MAX_SAVED_BYTES + 1)
            blocks.extend(lines)
            if lines.too_big:
                return (f"{path} is larger than {MAX_SAVED_BYTES >> 20} MiB, far more than any npu-smi output; "
                        "give the saved output of `npu-smi info` (or `npu-smi info -m`).")
    except InputError as error:
        return f"{error}."
    except OSError as error:
        return f"cannot read {path}: {error.strerror or error}; check the path and its permissions."
    text = "".join(blocks)
    if not text.strip():
        return f"{path} is empty; save the output of `npu-smi info` (or nvidia-smi) into it and try again."
    snapshot = parse_saved_output(text)
    if not (snapshot.chips or snapshot.mapping or snapshot.processes or snapshot.error is not None):
        return (f"{path} does not look like npu-smi output (no chip table, no `npu-smi info -m` mapping, "
                "no error line); give the saved output of `npu-smi info` (or nvidia-smi's CSV).")
    return snapshot


def _take_snapshot(kind: str, timeout: float) -> DeviceSnapshot | str:
    import asyncio
    import os

    from tui.devices.backends import pick_backend
    from tui.processes.commands import SubprocessRunner

    backend = pick_backend(kind, dict(os.environ))
    if isinstance(backend, str):
        return backend
    return asyncio.run(backend.read(SubprocessRunner(), timeout))


def _memory(chip: ChipReading) -> str:
    """HBM where the chip has it, else the Memory-Usage pair (310 family DDR)."""
    used, total = chip_memory_mb(chip)
    if used is None and total is None:
        return "N/A"
    return f"{or_na(used)} / {or_na(total)}"


def _columns(rows: Sequence[Sequence[str]], out: TextIO) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip(), file=out)


def print_table(snapshot: DeviceSnapshot, out: TextIO) -> None:
    """The compact human view: a header line, one line per chip, the processes, then warnings.

    The error, if any, is not printed here: `run` says it on stderr, where a script looks for it.
    """
    versions = ""
    if snapshot.tool_version or snapshot.driver_version:
        versions = f" {or_na(snapshot.tool_version)} (driver {or_na(snapshot.driver_version)})"
    counts = f"{len(snapshot.chips)} chip(s), {len(snapshot.processes)} process(es)"
    print(f"{snapshot.backend}{versions}: {counts}", file=out)
    if snapshot.chips:
        chip_rows: list[tuple[str, ...]] = [
            ("NPU", "CHIP", "NAME", "HEALTH", "POWER", "TEMP", "UTIL", "MEMORY(MB)", "BUS-ID")
        ]
        chip_rows += [
            (str(chip.npu), or_na(chip.chip), or_na(chip.name), or_na(chip.health), or_na(chip.power_w, unit="W"),
             or_na(chip.temp_c, unit="C"), or_na(chip.util_pct, unit="%"), _memory(chip), or_na(chip.bus_id))
            for chip in snapshot.chips
        ]
        _columns(chip_rows, out)
    if snapshot.processes:
        print(file=out)
        process_rows: list[tuple[str, ...]] = [("NPU", "CHIP", "PID", "NAME", "MEMORY(MB)")]
        process_rows += [
            (str(p.npu), or_na(p.chip), str(p.pid), or_na(p.name) if p.name != "" else "-", or_na(p.memory_mb))
            for p in snapshot.processes
        ]
        _columns(process_rows, out)
    if snapshot.mapping:
        print(file=out)
        mapping_rows: list[tuple[str, ...]] = [("NPU", "CHIP", "LOGIC-ID", "NAME")]
        mapping_rows += [(str(m.npu), str(m.chip), or_na(m.logic_id), m.name) for m in snapshot.mapping]
        _columns(mapping_rows, out)
    for warning in snapshot.warnings:
        print(f"warning: {warning}", file=out)
