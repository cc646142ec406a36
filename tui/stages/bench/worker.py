"""One load-generator worker process: reads a job (JSON) on stdin, sends it, writes records on stdout.

Started by `loadgen.run_sharded` when one core cannot drive the load. Records go back in
batches, one JSON line per progress tick, each with this process's CPU figure, so the parent can
show live numbers and judge whether any core was saturated.
"""

from __future__ import annotations

import asyncio
import json
import sys

from tui.stages.bench.loadgen import Tick, run_load
from tui.stages.bench.records import RequestRecord
from tui.stages.bench.sharding import job_to_plan


def main() -> int:
    job = json.loads(sys.stdin.readline())
    plan = job_to_plan(job)
    indices: list[int] = job["indices"]
    batch: list[dict[str, object]] = []

    def on_record(record: RequestRecord) -> None:
        record.index = indices[record.index]
        batch.append(record.to_json())

    def on_tick(tick: Tick) -> None:
        sys.stdout.write(json.dumps({"records": batch, "cpu_pct": tick.cpu_pct, "in_flight": tick.in_flight}) + "\n")
        sys.stdout.flush()
        batch.clear()

    outcome = asyncio.run(run_load(plan, on_record, on_tick, t0=job["t0"]))
    sys.stdout.write(json.dumps({"records": batch, "cpu_max_pct": outcome.cpu_max_pct, "in_flight": 0}) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
