"""How many log lines per second `LogFacts` reads (a script, not a test).

Run: `.venv/bin/python tests/server/logfacts/bench_logfacts.py [--lines N] [--runs R] [--events]`.

The console tails a live server and re-reads whole saved logs (a long run's log
is easily a million lines, mostly access and stats lines), so the reader must
keep far ahead of any server: the target is 200,000 lines/s on the project's
2-core reference machine. The log is assembled from the real logs of the shared
fixture corpus (`../shared/fixtures/vllm-logs`, or `$NPU_CONSOLE_SHARED`),
repeated until it holds about N lines (default 1,000,000); without the corpus,
from this repository's own fixtures. It is parsed R times (default 3) with
`parse_log_text` (facts only); `--events` also times `LogFacts.feed` in 64 KiB
chunks with every event collected, the way the log pane reads a live server.
The best run is reported with its ratio to the target (above 1.0 is faster).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))

from tui.server.logfacts import LogFacts, parse_log_text  # noqa: E402

TARGET_LINES_PER_S = 200_000
CHUNK = 64 * 1024


def corpus_folder() -> tuple[Path, str]:
    """The shared real logs when present, else this repository's own fixtures."""
    configured = os.environ.get("NPU_CONSOLE_SHARED")
    shared = Path(configured) if configured else REPO.parent / "shared"
    folder = shared / "fixtures" / "vllm-logs"
    if any(folder.glob("*.log")):
        return folder, "shared fixtures"
    return REPO / "tests" / "fixtures" / "vllm-logs", "own fixtures"


def assemble(folder: Path, lines: int) -> tuple[str, int]:
    """The corpus logs concatenated (bytes decoded, CRs kept) and repeated to about `lines` lines."""
    texts = []
    for path in sorted(folder.glob("*.log")):
        text = path.read_bytes().decode("utf-8", errors="replace")
        texts.append(text if text.endswith("\n") else text + "\n")
    one = "".join(texts)
    per_copy = one.count("\n")
    copies = max(1, round(lines / per_copy))
    return one * copies, per_copy * copies


def time_facts(text: str) -> float:
    started = time.perf_counter()
    parse_log_text(text)
    return time.perf_counter() - started


def time_events(text: str) -> tuple[float, int]:
    reader = LogFacts()
    count = 0
    started = time.perf_counter()
    for start in range(0, len(text), CHUNK):
        count += len(reader.feed(text[start:start + CHUNK]))
    count += len(reader.close())
    return time.perf_counter() - started, count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000, help="about how many lines to assemble")
    parser.add_argument("--runs", type=int, default=3, help="parses to time; the best is reported")
    parser.add_argument("--events", action="store_true", help="also time chunked feeding with every event")
    args = parser.parse_args()
    folder, origin = corpus_folder()
    text, lines = assemble(folder, args.lines)
    print(f"log: {lines:,} lines, {len(text) / 2**20:.1f} MiB, assembled from the {origin} in {folder}")
    best = min(time_facts(text) for _ in range(max(1, args.runs)))
    rate = lines / best
    print(f"parse_log_text: {best:.2f} s, {rate:,.0f} lines/s, ratio to the {TARGET_LINES_PER_S:,} lines/s target: "
          f"{rate / TARGET_LINES_PER_S:.2f}")
    if args.events:
        seconds, events = min(time_events(text) for _ in range(max(1, args.runs)))
        rate = lines / seconds
        print(f"feed + events:  {seconds:.2f} s, {rate:,.0f} lines/s ({events:,} events), ratio to target: "
              f"{rate / TARGET_LINES_PER_S:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
