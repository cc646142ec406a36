"""The load generator over several worker processes, each with its own event loop and core.

`run_sharded` deals the requests round-robin to `python -m tui.stages.bench.worker` processes that
share one start time (the same `perf_counter` clock in every process on Linux), and gathers their
records and CPU figures back as JSON lines.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp

from tui.stages.bench.loadgen import TICK_S, LiveCounts, LoadPlan, RequestSpec, RunOutcome, Tick, run_load
from tui.stages.bench.records import RequestRecord

STREAMS_PER_WORKER = 256


def auto_workers(in_flight: int) -> int:
    """Worker processes for `in_flight` concurrent streams: one per 256 streams, at most one per core."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, math.ceil(in_flight / STREAMS_PER_WORKER)))


def split_plan(plan: LoadPlan, workers: int) -> list[tuple[LoadPlan, list[int]]]:
    """Deal the requests round-robin to `workers` plans, each keeping its requests' absolute due times."""
    shares = []
    for worker in range(workers):
        indices = list(range(worker, len(plan.specs), workers))
        if not indices:
            continue
        concurrency = None
        if plan.concurrency is not None:
            concurrency = max(1, plan.concurrency // workers + (1 if worker < plan.concurrency % workers else 0))
        offsets = None if plan.offsets is None else [plan.offsets[i] for i in indices]
        shares.append((dataclasses.replace(plan, specs=[plan.specs[i] for i in indices], offsets=offsets,
                                           concurrency=concurrency, first_index=0), indices))
    return shares


def plan_to_job(plan: LoadPlan, indices: Sequence[int], t0: float) -> dict[str, Any]:
    return {
        "url": plan.url, "headers": plan.headers, "offsets": plan.offsets, "concurrency": plan.concurrency,
        "timeout_s": plan.timeout_s, "connect_timeout_s": plan.connect_timeout_s,
        "first_byte_timeout_s": plan.first_byte_timeout_s, "idle_timeout_s": plan.idle_timeout_s,
        "t0": t0, "indices": list(indices),
        "specs": [[spec.body.decode("utf-8"), spec.prompt_len, spec.expected_output_len] for spec in plan.specs],
    }


def job_to_plan(job: dict[str, Any]) -> LoadPlan:
    specs = [RequestSpec(body.encode("utf-8"), prompt_len, output_len) for body, prompt_len, output_len in job["specs"]]
    return LoadPlan(job["url"], specs, dict(job["headers"]), job["offsets"], job["concurrency"], job["timeout_s"],
                    connect_timeout_s=job["connect_timeout_s"], first_byte_timeout_s=job["first_byte_timeout_s"],
                    idle_timeout_s=job["idle_timeout_s"])


async def run_sharded(plan: LoadPlan, workers: int, on_record: Callable[[RequestRecord], None],
                      on_tick: Callable[[Tick], None] | None = None,
                      session: aiohttp.ClientSession | None = None) -> RunOutcome:
    """The plan split over `workers` processes (`python -m tui.stages.bench.worker`), one shared start time.

    Each worker sends its records back as JSON lines with its CPU figure; the run is client-bound when
    any worker's core was. With one worker the plan runs in this process, on `session` when given.
    """
    if workers <= 1:
        return await run_load(plan, on_record, on_tick, session=session)
    shares = split_plan(plan, workers)
    t0 = time.perf_counter() + 0.5 + 0.2 * len(shares)  # time for every worker to start and connect
    processes = []
    for share, indices in shares:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tui.stages.bench.worker", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, limit=64 * 1024 * 1024)
        assert process.stdin is not None
        process.stdin.write(json.dumps(plan_to_job(share, indices, t0)).encode() + b"\n")
        await process.stdin.drain()
        process.stdin.close()
        processes.append(process)
    cpu: dict[int, float] = {}
    cpu_max: dict[int, float] = {}
    live = LiveCounts()
    in_flight: dict[int, int] = {}
    errors: list[str] = []

    async def read(number: int, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None and process.stderr is not None
        async for line in process.stdout:
            message = json.loads(line)
            for data in message.get("records", ()):
                record = RequestRecord.from_json(data)
                live.add(record)
                on_record(record)
            if message.get("cpu_pct") is not None:
                cpu[number] = message["cpu_pct"]
            if message.get("cpu_max_pct") is not None:
                cpu_max[number] = message["cpu_max_pct"]
            in_flight[number] = message.get("in_flight", 0)
        code = await process.wait()
        if code != 0:
            tail = (await process.stderr.read()).decode("utf-8", "replace").strip().splitlines()[-1:]
            errors.append(f"load worker {number} exited with status {code}" + (f": {tail[0]}" if tail else ""))

    async def ticker() -> None:
        while True:
            await asyncio.sleep(TICK_S)
            if on_tick is not None:
                live.in_flight = sum(in_flight.values())
                on_tick(live.tick(time.perf_counter() - t0, max(cpu.values(), default=None)))

    tick_task = asyncio.ensure_future(ticker())
    try:
        await asyncio.gather(*(read(number, process) for number, process in enumerate(processes)))
    finally:
        tick_task.cancel()
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
    duration = time.perf_counter() - t0
    if errors:
        raise RuntimeError("; ".join(errors))
    return RunOutcome(duration, max(cpu_max.values(), default=None), None, len(processes))
