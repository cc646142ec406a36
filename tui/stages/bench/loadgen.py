"""The load generator: streamed OpenAI requests over aiohttp, timed as vLLM's benchmark times them.

Why it is built this way (measured in `tests/bench/bench_loadgen.py`; the stage anchors list the
published cases):

- aiohttp, not httpx: on one core httpx tops out around 13k streamed chunks/s and a few hundred
  requests/s, an order of magnitude below aiohttp, and the client must never be what is measured.
- One shared `ClientSession` with a connector whose limit is at least the concurrency (aiohttp's
  default of 100 silently caps it), a 4 MB read buffer (64 KB collapses throughput on long
  contexts), and our own SSE framing over `iter_any()` (aiohttp's line reader raises "Chunk too
  big" on long lines). Bodies are serialised before the clock starts.
- One `perf_counter()` per network read: every event of that read shares it, as in vLLM's client.
- `gc.freeze()` before the run, as vLLM's `freeze_gc_heap`: the collector then never walks the
  prompts and records while requests are in flight.
- The generator watches its own CPU (process time over wall time, per second): when a core is
  saturated, latency figures are partly the client's, and the result says "client_bound". More
  than one worker process (`workers`) splits the requests, each with its own loop and core.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import json
import math
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tui.api.errors import server_message
from tui.stages.bench.records import RequestRecord

READ_BUFSIZE = 4 * 1024 * 1024
TICK_S = 0.25
CPU_WINDOW_S = 1.0
CLIENT_BOUND_PCT = 90.0
STREAMS_PER_WORKER = 256
ERROR_BODY_LIMIT = 300


@dataclass(frozen=True)
class RequestSpec:
    """One request, ready to send: its JSON body (bytes) and what the dataset knows of its lengths."""

    body: bytes
    prompt_len: int | None = None
    expected_output_len: int | None = None


@dataclass(frozen=True)
class LoadPlan:
    """What to send, where and how fast.

    `offsets` are seconds from the start at which each request is due (None: all at once);
    `concurrency` caps requests in flight (None: no cap). `timeout_s` bounds each request as a
    whole. There is deliberately no per-read timeout: aiohttp re-arms a timer on every read, which
    measurably lowers the ceiling, and the whole-request bound already ends a hung reply.
    """

    url: str
    specs: Sequence[RequestSpec]
    headers: dict[str, str] = field(default_factory=dict)
    offsets: Sequence[float] | None = None
    concurrency: int | None = None
    timeout_s: float = 3600.0
    first_index: int = 0


@dataclass
class Tick:
    """The live figures of a run, handed to the progress callback about four times a second."""

    elapsed: float
    done: int
    failed: int
    in_flight: int
    output_tokens: int
    ttfts: list[float]
    cpu_pct: float | None


@dataclass
class RunOutcome:
    """How the run went as a whole: its duration (first dispatch → last reply) and the client's CPU."""

    duration: float
    cpu_max_pct: float | None
    cpu_mean_pct: float | None
    workers: int

    @property
    def client_bound(self) -> bool:
        return self.cpu_max_pct is not None and self.cpu_max_pct >= CLIENT_BOUND_PCT


class LiveCounts:
    """Running totals for the progress line: finished, failed, in flight, tokens, and the TTFTs so far."""

    def __init__(self) -> None:
        self.done = self.failed = self.in_flight = self.tokens = 0
        self.ttfts: list[float] = []

    def add(self, record: RequestRecord) -> None:
        self.done += 1
        if record.success:
            self.tokens += record.output_tokens or 0
            if record.ttft is not None:
                self.ttfts.append(record.ttft)
        else:
            self.failed += 1

    def tick(self, elapsed: float, cpu_pct: float | None) -> Tick:
        return Tick(elapsed, self.done, self.failed, self.in_flight, self.tokens, self.ttfts, cpu_pct)


class CpuWatch:
    """This process's CPU use over whole windows of about a second (short spikes are not saturation)."""

    def __init__(self) -> None:
        self._wall = time.perf_counter()
        self._cpu = time.process_time()
        self._start_wall, self._start_cpu = self._wall, self._cpu
        self.last_pct: float | None = None
        self.max_pct: float | None = None

    def sample(self) -> float | None:
        wall, cpu = time.perf_counter(), time.process_time()
        if wall - self._wall >= CPU_WINDOW_S:
            pct = 100.0 * (cpu - self._cpu) / (wall - self._wall)
            self.last_pct = pct
            self.max_pct = pct if self.max_pct is None else max(self.max_pct, pct)
            self._wall, self._cpu = wall, cpu
        return self.last_pct

    def finish(self) -> tuple[float | None, float | None]:
        """(max, mean) percent; a run shorter than a window is judged on its whole length."""
        wall, cpu = time.perf_counter(), time.process_time()
        mean_pct = 100.0 * (cpu - self._start_cpu) / (wall - self._start_wall) if wall > self._start_wall else None
        if self.max_pct is None:
            self.max_pct = mean_pct
        return self.max_pct, mean_pct


def _describe_exception(exc: BaseException, url: str, streaming: bool) -> tuple[str, str]:
    """(reason, sentence) for a request that raised."""
    if isinstance(exc, json.JSONDecodeError):
        return "bad event", f"the server sent an event that is not JSON: {exc}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc.os_error, ConnectionRefusedError):
            return "connection refused", f"nothing answers at {url}; is the server up?"
        return "cannot connect", f"cannot connect to {url}: {exc.os_error or exc}"
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return "timeout", "the server stopped answering before the reply ended (timed out)"
    if isinstance(exc, aiohttp.ClientOSError) and not streaming:
        if exc.errno in (errno.ECONNRESET, errno.EPIPE):
            return "connection reset", f"the server closed the connection before answering ({exc.strerror or exc})"
        return "connection error", f"the connection to {url} failed: {exc.strerror or exc}"
    if isinstance(exc, aiohttp.ServerDisconnectedError) and not streaming:
        return "disconnected before answering", "the server closed the connection before answering"
    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError)) or streaming:
        detail = str(exc) or type(exc).__name__
        return "disconnected mid-stream", f"the connection closed in the middle of the reply ({detail})"
    return type(exc).__name__, f"the request failed: {exc or type(exc).__name__}"


_parse_object = json.JSONDecoder().raw_decode
"""`json.loads` without its wrappers (encoding detection, trailing-space check): the hot path parses every event."""


def _event_data(event: str) -> str | None:
    """The `data` of an event that is not a single `data: …` line (comments, several data lines, CR LF)."""
    parts = [line[6:] if line.startswith("data: ") else line[5:]
             for line in event.strip("\n").split("\n") if line.startswith("data:")]
    return "\n".join(parts) if parts else None


def _take_usage(usage: Any, record: RequestRecord) -> None:
    completion = usage.get("completion_tokens") if isinstance(usage, dict) else None
    if isinstance(completion, int):
        record.output_tokens = completion
        record.output_tokens_source = "usage"
    prompt = usage.get("prompt_tokens") if isinstance(usage, dict) else None
    if isinstance(prompt, int):
        record.prompt_len = prompt


def _take_error(error: Any, record: RequestRecord) -> None:
    message = error.get("message") if isinstance(error, dict) else error
    record.reason = "server error mid-stream"
    record.error = f"the server reported an error in the middle of the reply: {str(message)[:ERROR_BODY_LIMIT]}"


async def send_request(session: aiohttp.ClientSession, url: str, spec: RequestSpec, headers: dict[str, str],
                       record: RequestRecord, t0: float) -> None:
    """Send one streamed request and fill `record`; never raises (a failure is a record with a reason).

    The read loop is written out inline on purpose: it runs for every network read and every event
    of every request, and each function call or bytes-to-JSON detour there costs the generator a
    measurable share of its ceiling (see tests/bench/bench_loadgen.py). Complete events are decoded
    to text once per read; a single-line `data: {…}` event (what servers send) takes the fast path.
    """
    perf_counter = time.perf_counter
    parse = _parse_object
    itl_append = record.itl.append
    streaming = False
    last = -1.0  # when the last choice-bearing event arrived; -1: none yet
    start = perf_counter()
    record.start = start - t0
    try:
        async with session.post(url, data=spec.body, headers=headers) as response:
            record.status = response.status
            if response.status != 200:
                body = (await response.content.read(64 * 1024)).decode("utf-8", "replace")
                record.reason = f"HTTP {response.status}"
                detail = server_message(body)[:ERROR_BODY_LIMIT]
                record.error = f"the server answered HTTP {response.status}" + (f": {detail}" if detail else "")
                return
            streaming = True
            pending = b""
            async for data in response.content.iter_any():
                now = perf_counter()
                if pending:
                    data = pending + data
                if b"\r" in data:
                    data = data.replace(b"\r\n", b"\n")
                cut = data.rfind(b"\n\n")
                if cut < 0:
                    pending = data
                    continue
                pending = data[cut + 2:]
                for event in data[:cut].decode("utf-8", "replace").split("\n\n"):
                    if event.startswith("data: {") and "\n" not in event:
                        payload = event[6:]
                    else:
                        found = _event_data(event)
                        if found is None or not found.startswith("{"):
                            continue  # a comment, [DONE], or a field we do not use
                        payload = found
                    obj = parse(payload)[0]
                    choices = obj.get("choices")
                    if choices:
                        if last < 0:
                            record.ttft = now - start
                        else:
                            itl_append(now - last)
                        last = now
                    usage = obj.get("usage")
                    if usage:
                        _take_usage(usage, record)
                    elif not choices and obj.get("error"):
                        _take_error(obj["error"], record)
            tail = _event_data(pending.decode("utf-8", "replace")) if pending.strip() else None
            if tail is not None and tail.startswith("{"):
                obj = parse(tail)[0]
                if obj.get("choices"):
                    if last < 0:
                        record.ttft = perf_counter() - start
                    else:
                        itl_append(perf_counter() - last)
                    last = perf_counter()
                if obj.get("usage"):
                    _take_usage(obj["usage"], record)
    except Exception as exc:
        record.reason, record.error = _describe_exception(exc, url, streaming)
        return
    if record.reason is not None:
        return
    if last < 0:
        record.reason = "no token chunk"
        record.error = "the reply ended without a single choice chunk, so it has no time to first token"
        return
    record.latency = last - start
    record.success = True
    if record.output_tokens is None:
        record.output_tokens = 1 + len(record.itl)
        record.output_tokens_source = "chunks"


def make_session(concurrency: int | None, timeout_s: float) -> aiohttp.ClientSession:
    """One session for the whole run: no connector cap below the concurrency, keep-alive, a 4 MB read buffer."""
    limit = 0 if concurrency is None else max(concurrency, 1)
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=limit, keepalive_timeout=60, force_close=False)
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=timeout_s, sock_connect=30.0),
        read_bufsize=READ_BUFSIZE,
        auto_decompress=False,
    )


async def run_load(plan: LoadPlan, on_record: Callable[[RequestRecord], None],
                   on_tick: Callable[[Tick], None] | None = None, t0: float | None = None) -> RunOutcome:
    """Send every request of `plan` in this process; `on_record` gets each finished one.

    `t0` is the shared start (a `perf_counter` value; the same clock in every process on Linux),
    so worker processes keep one arrival schedule.
    """
    specs = plan.specs
    gc.collect()
    gc.freeze()
    watch = CpuWatch()
    live = LiveCounts()

    def finished(record: RequestRecord) -> None:
        live.in_flight -= 1
        live.add(record)
        on_record(record)

    async def one(index: int, spec: RequestSpec, arrival: float) -> None:
        record = RequestRecord(index=plan.first_index + index, prompt_len=spec.prompt_len,
                               expected_output_len=spec.expected_output_len)
        live.in_flight += 1
        await send_request(session, plan.url, spec, plan.headers, record, start)
        record.queue_time = max(0.0, record.start - arrival)
        finished(record)

    async def ticker() -> None:
        while True:
            await asyncio.sleep(TICK_S)
            cpu = watch.sample()
            if on_tick is not None:
                on_tick(live.tick(time.perf_counter() - start, cpu))

    session = make_session(plan.concurrency, plan.timeout_s)
    start = time.perf_counter() if t0 is None else t0
    tick_task = asyncio.ensure_future(ticker())
    try:
        async with session:
            offsets = plan.offsets
            if t0 is not None and (wait := t0 - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            if not offsets or not any(offsets):
                await _all_at_once(specs, plan.concurrency, one)
            else:
                await _on_schedule(specs, offsets, plan.concurrency, start, one)
            duration = time.perf_counter() - start
    finally:
        tick_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tick_task
        gc.unfreeze()
    if on_tick is not None:
        on_tick(live.tick(duration, watch.sample()))
    cpu_max, cpu_mean = watch.finish()
    return RunOutcome(duration, cpu_max, cpu_mean, 1)


async def _all_at_once(specs: Sequence[RequestSpec], concurrency: int | None,
                       one: Callable[[int, RequestSpec, float], Awaitable[None]]) -> None:
    """Rate `inf`: everything is due at 0; with a cap, that many loops take the next request (closed loop)."""
    if concurrency is None or concurrency >= len(specs):
        await asyncio.gather(*(one(index, spec, 0.0) for index, spec in enumerate(specs)))
        return
    pending = iter(enumerate(specs))

    async def lane() -> None:
        for index, spec in pending:
            await one(index, spec, 0.0)

    await asyncio.gather(*(lane() for _ in range(concurrency)))


async def _on_schedule(specs: Sequence[RequestSpec], offsets: Sequence[float], concurrency: int | None, start: float,
                       one: Callable[[int, RequestSpec, float], Awaitable[None]]) -> None:
    """Send each request at its absolute due time; with a cap, it waits for a slot (queue time recorded)."""
    slots = asyncio.Semaphore(concurrency) if concurrency else None

    async def limited(index: int, spec: RequestSpec, arrival: float) -> None:
        if slots is None:
            await one(index, spec, arrival)
            return
        async with slots:
            await one(index, spec, arrival)

    tasks = []
    for index, (spec, offset) in enumerate(zip(specs, offsets, strict=True)):
        delay = start + offset - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(limited(index, spec, offset)))
    await asyncio.gather(*tasks)


# ---------------------------------------------------------------------------------------------
# Worker processes


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
        shares.append((LoadPlan(plan.url, [plan.specs[i] for i in indices], plan.headers, offsets, concurrency,
                                plan.timeout_s), indices))
    return shares


def plan_to_job(plan: LoadPlan, indices: Sequence[int], t0: float) -> dict[str, Any]:
    return {
        "url": plan.url, "headers": plan.headers, "offsets": plan.offsets, "concurrency": plan.concurrency,
        "timeout_s": plan.timeout_s,
        "t0": t0, "indices": list(indices),
        "specs": [[spec.body.decode("utf-8"), spec.prompt_len, spec.expected_output_len] for spec in plan.specs],
    }


def job_to_plan(job: dict[str, Any]) -> LoadPlan:
    specs = [RequestSpec(body.encode("utf-8"), prompt_len, output_len) for body, prompt_len, output_len in job["specs"]]
    return LoadPlan(job["url"], specs, dict(job["headers"]), job["offsets"], job["concurrency"], job["timeout_s"])


async def run_sharded(plan: LoadPlan, workers: int, on_record: Callable[[RequestRecord], None],
                      on_tick: Callable[[Tick], None] | None = None) -> RunOutcome:
    """The plan split over `workers` processes (`python -m tui.stages.bench.worker`), one shared start time.

    Each worker sends its records back as JSON lines with its CPU figure; the run is client-bound when
    any worker's core was.
    """
    if workers <= 1:
        return await run_load(plan, on_record, on_tick)
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
