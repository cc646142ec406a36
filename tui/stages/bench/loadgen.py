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
- Every reader is bounded: an SSE event (and so any line in it) over `MAX_EVENT_BYTES` without its
  blank line fails the request there instead of growing a buffer, and so does a reply of more than
  `MAX_CHUNKS` choice chunks. Besides the whole-request `--timeout`, a connect timeout (aiohttp's
  `sock_connect`), a first-byte timeout (send → first body bytes) and an idle timeout (the longest
  gap between reads) end a server that stops answering. All but the connect's are checked by one
  watchdog about four times a second, not by timers per request or per read: each read only
  stores its time.
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
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tui.api.errors import server_message
from tui.stages.bench.limits import (
    CONNECT_TIMEOUT_S,
    FIRST_BYTE_TIMEOUT_S,
    IDLE_TIMEOUT_S,
    MAX_CHUNKS,
    MAX_EVENT_BYTES,
    TOTAL_TIMEOUT_S,
)
from tui.stages.bench.records import RequestRecord

READ_BUFSIZE = 4 * 1024 * 1024
TICK_S = 0.25
CPU_WINDOW_S = 1.0
CLIENT_BOUND_PCT = 90.0
ERROR_BODY_LIMIT = 300


class StreamLimitError(Exception):
    """The server broke one of the reader's bounds; `reason` groups the failure, the message says it."""

    def __init__(self, reason: str, sentence: str) -> None:
        super().__init__(sentence)
        self.reason = reason


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
    whole, `connect_timeout_s` the TCP connect, `first_byte_timeout_s` the wait from sending to the
    first bytes of the body, `idle_timeout_s` any later gap between reads. All but the connect's
    are the `Watchdog`'s, not aiohttp's `total` and `sock_read` (a timer per request, or re-armed
    on every read, measurably lowers the ceiling).
    """

    url: str
    specs: Sequence[RequestSpec]
    headers: dict[str, str] = field(default_factory=dict)
    offsets: Sequence[float] | None = None
    concurrency: int | None = None
    timeout_s: float = TOTAL_TIMEOUT_S
    first_index: int = 0
    connect_timeout_s: float = CONNECT_TIMEOUT_S
    first_byte_timeout_s: float = FIRST_BYTE_TIMEOUT_S
    idle_timeout_s: float = IDLE_TIMEOUT_S


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


class Watchdog:
    """The whole-request, first-byte and idle timeouts of every request in flight, checked by one periodic call.

    A request registers its task and a one-slot list holding the time of its last read (its start
    until the first read); `check` cancels the task of any request past its bound and leaves the
    reason in `fired`, which `send_request` turns into a failed record. The whole-request bound is
    here too rather than aiohttp's `total`, whose timer per request cost 15 % of the client's CPU on
    one-token requests (144 against 122 µs a request, tests/bench/bench_loadgen.py's server).
    """

    def __init__(self, first_byte_s: float, idle_s: float, total_s: float = TOTAL_TIMEOUT_S) -> None:
        self.first_byte_s = first_byte_s
        self.idle_s = idle_s
        self.total_s = total_s
        self.active: dict[asyncio.Task[Any], tuple[float, list[float]]] = {}
        self.fired: dict[asyncio.Task[Any], tuple[str, str]] = {}

    def check(self, now: float) -> None:
        for task, (start, last) in list(self.active.items()):
            if task in self.fired:
                continue
            if now - start > self.total_s:
                self.fired[task] = ("timeout", f"the reply did not end within {self.total_s:g} s (--timeout)")
                task.cancel()
            elif last[0] == start:
                if now - start > self.first_byte_s:
                    self.fired[task] = ("first-byte timeout", f"the server sent nothing for {self.first_byte_s:g} s "
                                        "after the request (--first-byte-timeout)")
                    task.cancel()
            elif now - last[0] > self.idle_s:
                self.fired[task] = ("idle timeout", f"the reply stalled: nothing arrived for {self.idle_s:g} s "
                                    "(--idle-timeout)")
                task.cancel()


def _describe_exception(exc: BaseException, url: str, streaming: bool) -> tuple[str, str]:
    """(reason, sentence) for a request that raised."""
    if isinstance(exc, StreamLimitError):
        return exc.reason, str(exc)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return "connect timeout", f"no connection to {url} within the connect timeout (--connect-timeout)"
    if isinstance(exc, json.JSONDecodeError):
        return "bad event", f"the server sent an event that is not JSON: {exc}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc.os_error, ConnectionRefusedError):
            return "connection refused", f"nothing answers at {url}; is the server up?"
        return "cannot connect", f"cannot connect to {url}: {exc.os_error or exc}"
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return "timeout", "the request timed out before its reply ended"
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
                       record: RequestRecord, t0: float, watchdog: Watchdog | None = None) -> None:
    """Send one streamed request and fill `record`; never raises (a failure is a record with a reason).

    The read loop is written out inline on purpose: it runs for every network read and every event
    of every request, and each function call or bytes-to-JSON detour there costs the generator a
    measurable share of its ceiling (see tests/bench/bench_loadgen.py). Complete events are decoded
    to text once per read; a single-line `data: {…}` event (what servers send) takes the fast path.
    Per read, the bounds cost one store (the watchdog's clock) and two length checks.
    """
    perf_counter = time.perf_counter
    parse = _parse_object
    itl_append = record.itl.append
    streaming = False
    last = -1.0  # when the last choice-bearing event arrived; -1: none yet
    start = perf_counter()
    record.start = start - t0
    seen = [start]  # the time of the last read, for the watchdog (still `start`: nothing read yet)
    task = asyncio.current_task() if watchdog is not None else None
    if task is not None and watchdog is not None:
        watchdog.active[task] = (start, seen)
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
                seen[0] = now
                if pending:
                    data = pending + data
                if b"\r" in data:
                    data = data.replace(b"\r\n", b"\n")
                cut = data.rfind(b"\n\n")
                if cut < 0:
                    if len(data) > MAX_EVENT_BYTES:
                        raise _oversized_event()
                    pending = data
                    continue
                pending = data[cut + 2:]
                if len(pending) > MAX_EVENT_BYTES:
                    raise _oversized_event()
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
                if len(record.itl) >= MAX_CHUNKS:
                    raise StreamLimitError("too many chunks", f"the reply sent more than {MAX_CHUNKS:,} chunks; "
                                      "it was cut there")
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
    except asyncio.CancelledError:
        fired = watchdog.fired.pop(task, None) if task is not None and watchdog is not None else None
        if fired is None:
            raise
        uncancel = getattr(task, "uncancel", None)  # Python 3.11+: the cancel was ours, and is now handled
        if uncancel is not None:
            uncancel()
        record.reason, record.error = fired
        return
    except Exception as exc:
        record.reason, record.error = _describe_exception(exc, url, streaming)
        return
    finally:
        if task is not None and watchdog is not None:
            watchdog.active.pop(task, None)
            watchdog.fired.pop(task, None)
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


def _oversized_event() -> StreamLimitError:
    mib = MAX_EVENT_BYTES // (1024 * 1024)
    return StreamLimitError("event too large", f"the server sent an SSE event over {mib} MiB without its closing "
                                               "blank line; the reply was cut there")


def make_session(concurrency: int | None, connect_timeout_s: float = CONNECT_TIMEOUT_S) -> aiohttp.ClientSession:
    """One session for the whole run: no connector cap below the concurrency, keep-alive, a 4 MB read buffer.

    Its only aiohttp timeout is the connect's; the others are the `Watchdog`'s.
    """
    limit = 0 if concurrency is None else max(concurrency, 1)
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=limit, keepalive_timeout=60, force_close=False)
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout_s),
        read_bufsize=READ_BUFSIZE,
        auto_decompress=False,
    )


async def run_load(plan: LoadPlan, on_record: Callable[[RequestRecord], None],
                   on_tick: Callable[[Tick], None] | None = None, t0: float | None = None,
                   session: aiohttp.ClientSession | None = None) -> RunOutcome:
    """Send every request of `plan` in this process; `on_record` gets each finished one.

    `t0` is the shared start (a `perf_counter` value; the same clock in every process on Linux),
    so worker processes keep one arrival schedule. `session` (from `make_session`, left open) lets
    warm-up requests and the run share their connections, as vLLM's client does; without one the
    run opens and closes its own.
    """
    specs = plan.specs
    gc.collect()
    gc.freeze()
    watch = CpuWatch()
    live = LiveCounts()
    watchdog = Watchdog(plan.first_byte_timeout_s, plan.idle_timeout_s, plan.timeout_s)

    def finished(record: RequestRecord) -> None:
        live.in_flight -= 1
        live.add(record)
        on_record(record)

    async def one(index: int, spec: RequestSpec, arrival: float) -> None:
        record = RequestRecord(index=plan.first_index + index, prompt_len=spec.prompt_len,
                               expected_output_len=spec.expected_output_len)
        live.in_flight += 1
        await send_request(client, plan.url, spec, plan.headers, record, start, watchdog)
        record.queue_time = max(0.0, record.start - arrival)
        finished(record)

    async def ticker() -> None:
        while True:
            await asyncio.sleep(TICK_S)
            cpu = watch.sample()
            watchdog.check(time.perf_counter())
            if on_tick is not None:
                on_tick(live.tick(time.perf_counter() - start, cpu))

    client = session or make_session(plan.concurrency, plan.connect_timeout_s)
    start = time.perf_counter() if t0 is None else t0
    tick_task = asyncio.ensure_future(ticker())
    try:
        async with contextlib.nullcontext() if session is not None else client:
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
