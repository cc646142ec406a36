"""The accuracy stage's throughput: GSM8K problems per second against the canned server.

Run: `.venv/bin/python tests/bench/bench_accuracy.py [--limit 1319] [--concurrency 8 64]`

The stage runs as the console runs it (`python -m tui.stages.accuracy`, a subprocess) against the
canned OpenAI-compatible server of the tests (tests/stages/accuracy/canned.py: a real loopback
socket, answers from a key, in a thread of this process), whole and streamed replies, chat form,
4-shot prompts. For each row: problems/s over the stage's own `duration_s` (dataset, prompts,
requests, grading, items.jsonl), and the stage's CPU seconds per 1,000 problems (user + system of
the subprocess), which says how far the client is from being what limits a real run: a real server
answers a 4-shot GSM8K problem in seconds, the stage spends well under a millisecond on one.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.stages.accuracy.canned import CannedServer, expected_counts
from tui.stages.events import Result, parse_event


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(url: str, limit: int, concurrency: int, stream: bool, folder: Path) -> tuple[float, float, dict]:
    argv = [sys.executable, "-m", "tui.stages.accuracy", "--url", url, "--limit", str(limit), "--concurrency",
            str(concurrency), "--stream" if stream else "--no-stream", "--items", str(folder / "items.jsonl")]
    cpu_before = children_cpu_s()
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    wall = time.monotonic() - started
    cpu = children_cpu_s() - cpu_before
    if done.returncode != 0:
        raise SystemExit(f"the stage failed ({done.returncode}): {done.stdout[-500:]} {done.stderr[-500:]}")
    results = [event for event in map(parse_event, done.stdout.splitlines()) if isinstance(event, Result)]
    return wall, cpu, dict(results[-1].data)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=1319, help="problems per run (default: the whole split)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 64], help="requests in flight")
    args = parser.parse_args()
    graded, correct, _, _ = expected_counts(args.limit, "aisbench")
    server = CannedServer().start()
    try:
        print(f"GSM8K accuracy stage against the canned server, {args.limit} problems, chat form, 4-shot")
        print(f"{'replies':<9} {'conc.':>5} {'problems/s':>11} {'wall s':>7} {'stage CPU s/1k':>15} {'accuracy':>9}")
        with tempfile.TemporaryDirectory() as tmp:
            for stream in (False, True):
                for concurrency in args.concurrency:
                    wall, cpu, result = run_once(server.url, args.limit, concurrency, stream, Path(tmp))
                    if (result["total"], result["correct"]) != (graded, correct):
                        raise SystemExit(f"wrong figures: {result}")
                    rate = args.limit / result["duration_s"]
                    print(f"{'streamed' if stream else 'whole':<9} {concurrency:>5} {rate:>11.0f} {wall:>7.2f} "
                          f"{1000 * cpu / args.limit:>15.2f} {result['accuracy']:>8.2f}%")
        print(f"every run: {correct}/{graded} right, as the canned key says; {len(server.requests)} requests served")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
