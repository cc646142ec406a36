"""How long one `npu-smi info` parse takes on the biggest table a host prints (a script, not a test).

Run: `.venv/bin/python tests/devices/bench_parse.py [--runs N] [--file F]`.

The device panel re-parses the table every poll, on the UI's event loop, so a
parse must stay far below a frame. The table is an Atlas 800I A3 (8 NPUs x 2
dies = 16 chips) with a full process table (32 processes): the most rows one
host gives. The target is 1 ms; the figures are the mean and median of N
parses after a warm-up, with min and max beside them, and their ratio to the
target (below 1.0 is within it).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tui.devices.npu_smi_parser import parse_npu_smi_info  # noqa: E402

TARGET_MS = 1.0
DEFAULT_TABLE = REPO / "tests" / "fixtures" / "npu-smi" / "A3_Ascend910_8npu-16chip_busy-procs_25.2.0.txt"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5000, help="parses to time (default 5000)")
    parser.add_argument("--file", type=Path, default=DEFAULT_TABLE, help="the table to parse")
    args = parser.parse_args()
    text = args.file.read_text(encoding="utf-8")
    snapshot = parse_npu_smi_info(text)
    for _ in range(max(100, args.runs // 10)):
        parse_npu_smi_info(text)
    times_ms = []
    clock = time.perf_counter
    for _ in range(args.runs):
        started = clock()
        parse_npu_smi_info(text)
        times_ms.append((clock() - started) * 1000.0)
    mean, median = statistics.fmean(times_ms), statistics.median(times_ms)
    print(f"table: {args.file.name} ({len(text.splitlines())} lines, {len(snapshot.chips)} chips, "
          f"{len(snapshot.processes)} processes)")
    print(f"runs: {args.runs}")
    print(f"mean   {mean:.4f} ms  ratio to {TARGET_MS:g} ms target: {mean / TARGET_MS:.2f}")
    print(f"median {median:.4f} ms  ratio to {TARGET_MS:g} ms target: {median / TARGET_MS:.2f}")
    print(f"min    {min(times_ms):.4f} ms  max {max(times_ms):.4f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
