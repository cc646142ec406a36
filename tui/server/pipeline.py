"""One server the console watches, headless: the launch or the attach, its log, facts, metrics and evidence.

`npu-console serve` and the console's Server area both own one
`ServerPipeline`; nothing here knows about Textual. The pipeline owns:

- the source: a `ServerProcess` it launched (its own process group, writing
  into the run folder's `server.log`), or a `LogTail` of someone else's log;
- the parse: each batch of lines goes through the log-facts reader in a worker
  thread (`pipeline_parse`), one batch at a time, with the tail's back-pressure;
- what is kept in memory, all bounded: the log window, the facts as one frozen
  `FactsView`, the log's periodic stats lines, the `/metrics` history — all
  reset together by a launch and by an attach;
- readiness: the log's "Application startup complete." starts a probe of
  `/v1/models`; the state is `ready` when the API answers;
- the evidence (`pipeline_evidence`): `launch.json`, `launch.sh`, `facts.json`
  kept current, `stop.json` with the stop's outcome.

It tells its `PipelineListener` what changed, always on the event loop's
thread and always with immutable values: the status, the new log lines (in
batches at most every 50 ms), the facts (at most 4 times a second), every
parser event as it is read (the CLI prints them), each `/metrics` scrape.
Waiting is on events: `wait_settled` returns when the server is ready or gone,
`wait_ended` when the process has ended — no caller polls.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from tui.evidence.launch_hook import record_launch_environment
from tui.processes.tree import StopReport
from tui.redact import Redactor
from tui.server.launch_plan import LaunchPlan
from tui.server.launcher import ServerExit, ServerProcess
from tui.server.log_window import LogLine, LogWindow
from tui.server.logfacts import LogEvent, LogFacts
from tui.server.logfacts.diagnosis import Diagnosis
from tui.server.logfacts.events import Stats
from tui.server.pipeline_evidence import EvidenceError, FactsSaver, RunEvidence
from tui.server.pipeline_parse import FactsView, diagnosis_message, parse_batch
from tui.server.pipeline_readiness import api_answers, models_url
from tui.server.serving_metrics import MetricsHistory, ServingMetrics
from tui.server.status import ServerState, ServerStatus
from tui.server.tail import LogTail, TailBatch, follow

FLUSH_S = 0.05  # lines reach the listener in batches at most this often, however fast the server writes
FACTS_EVERY_S = 0.25  # the facts reach the listener at most 4 times a second
FACTS_SAVE_EVERY_S = 1.0  # facts.json is at most this old while the server runs
STATS_KEPT = 120
METRICS_INTERVAL_S = 2.0
READY_PROBE_S = 30.0
SETTLED_STATES: frozenset[ServerState] = frozenset(("ready", "failed", "stopped", "not started", "attached"))


class PipelineListener(Protocol):
    """What a pipeline's owner hears. Every method runs on the event loop's thread.

    A listener may implement the protocol (the CLI does) or subclass it and
    override only what it needs (the defaults do nothing).
    """

    def status_changed(self, status: ServerStatus) -> None:
        """The state, pid, URL or detail sentence changed."""
        return None

    def lines_arrived(self, lines: tuple[LogLine, ...], total: int) -> None:
        """New log lines (classified), and how many lines the log has had so far."""
        return None

    def facts_changed(self, view: FactsView) -> None:
        """The facts, phases or diagnoses changed (coalesced: at most every `FACTS_EVERY_S`)."""
        return None

    def log_events(self, events: tuple[LogEvent, ...]) -> None:
        """Every parser event of a batch, in order, as soon as the batch is read."""
        return None

    def metrics_read(self, result: ServingMetrics | str, at: float) -> None:
        """One `/metrics` scrape: the values (already in `metrics`), or the sentence why there are none."""
        return None

    def problem(self, sentence: str) -> None:
        """Something went wrong beside the server (the evidence could not be written): one sentence."""
        return None


class _Quiet(PipelineListener):
    """Hears nothing (a pipeline nobody listens to still keeps its state and writes its evidence)."""


class ServerPipeline:
    """A launch or an attach, owned from start to stop. Create and use it on one event loop."""

    def __init__(
        self,
        listener: PipelineListener | None = None,
        *,
        http_transport: Any | None = None,
        should_wait: Callable[[], bool] = lambda: False,
        flush_s: float = FLUSH_S,
        facts_every_s: float = FACTS_EVERY_S,
        metrics_interval_s: float = METRICS_INTERVAL_S,
        ready_probe_s: float = READY_PROBE_S,
    ) -> None:
        self.listener: PipelineListener = listener or _Quiet()
        self.status = ServerStatus()
        self.window = LogWindow()
        self.view = FactsView.of(LogFacts())
        self.stats_history: deque[Stats] = deque(maxlen=STATS_KEPT)
        self.metrics = MetricsHistory()
        self.progress: tuple[str, int] | None = None
        self.server: ServerProcess | None = None
        self.evidence: RunEvidence | None = None
        self._transport = http_transport
        self._should_wait = should_wait
        self._flush_s = flush_s
        self._facts_every_s = facts_every_s
        self._metrics_interval_s = metrics_interval_s
        self._ready_probe_s = ready_probe_s
        self._facts = LogFacts()  # fed in a worker thread, one batch at a time; everyone else reads `view`
        self._redact = Redactor()  # masks secrets in the log's lines; a launch masks its own environment's too
        self._line_number = 0
        self._pending: list[LogLine] = []
        self._flush_handle: asyncio.TimerHandle | None = None
        self._facts_handle: asyncio.TimerHandle | None = None
        self._facts_dirty = False
        self._facts_told_at = 0.0
        self._saver: FactsSaver | None = None
        self._api_key: str | None = None
        self._stopping = False
        self._asked_by: str | None = None
        self._stop_report: StopReport | None = None
        self._tail_stop: asyncio.Event | None = None
        self._gone = asyncio.Event()  # the server or the attach this pipeline watches has ended
        self._settled = asyncio.Event()
        self._ended = asyncio.Event()  # the end is recorded: evidence written, listener told
        self._ending = False
        self._settled.set()  # "not started" is settled
        self._tasks: set[asyncio.Task[Any]] = set()
        self._writes: set[asyncio.Future[None]] = set()  # evidence writes that outlive a reset
        self._metrics_task: asyncio.Task[None] | None = None

    # ---- state -----------------------------------------------------------------------------------

    @property
    def root_cause(self) -> Diagnosis | None:
        return self.view.root_cause

    def set_status(self, state: ServerState, **changes: Any) -> None:
        """Move to `state` (the detail sentence is cleared unless given) and tell the listener."""
        self.status = replace(self.status, state=state, **{"detail": None, **changes})
        if state in SETTLED_STATES:
            self._settled.set()
        else:
            self._settled.clear()
        self.listener.status_changed(self.status)

    async def wait_settled(self, timeout_s: float | None = None) -> ServerStatus:
        """Until the launch is ready, has failed or stopped (or the bound runs out); the status then."""
        try:
            await asyncio.wait_for(self._settled.wait(), timeout_s)
        except asyncio.TimeoutError:
            pass
        return self.status

    async def wait_ended(self) -> ServerExit | None:
        """Until the launched server has ended (its last line read); None for an attach or no launch."""
        server = self.server
        if server is None:
            return None
        ended = await server.wait()
        await self._ended.wait()
        return ended

    def reset(self) -> None:
        """Forget the previous server's lines, facts, stats and metrics (its log stays on disk)."""
        for task in list(self._tasks):
            task.cancel()
        self._tasks.clear()
        self._metrics_task = None
        if self._saver is not None:
            self._saver.cancel()
            self._saver = None
        self.window.clear()
        self._facts = LogFacts()
        self.view = FactsView.of(self._facts)
        self._line_number = 0
        self.progress = None
        self.stats_history.clear()
        self.metrics.clear()
        self._pending.clear()
        self._gone = asyncio.Event()
        self._ended = asyncio.Event()
        self._ending = False
        self._stopping = False
        self._asked_by = None
        self._stop_report = None
        self._facts_dirty = True
        self._flush()

    # ---- launching and stopping --------------------------------------------------------------

    async def launch(self, plan: LaunchPlan, env: Mapping[str, str], run_dir: Path, url: str | None,
                     api_key: str | None = None) -> None:
        """Record the launch, start the server and follow it.

        Raises `EvidenceError` (nothing was started: the run folder cannot be
        written) or `LaunchError` (the command could not start), each with one sentence.
        """
        self.detach()
        self.reset()
        self._api_key = api_key
        # the server prints only what it has: its environment's values, the key it was given
        self._redact = Redactor({**os.environ, **env}, [api_key] if api_key else [])
        evidence = RunEvidence(run_dir)
        await asyncio.to_thread(evidence.record_launch, plan, env, url)
        self.evidence = evidence
        self._saver = FactsSaver(evidence, FACTS_SAVE_EVERY_S, self.listener.problem)
        server = await ServerProcess.start(plan.argv, env, evidence.log_path, self._take_lines,
                                           should_wait=self._should_wait)
        self.server = server
        self.set_status("starting", pid=server.pid, url=url, log_path=evidence.log_path,
                        started_at=time.monotonic())
        self._spawn(self._watch_exit(server))
        self._spawn(record_launch_environment(run_dir, plan.argv, env, self.listener.problem))
        try:
            await asyncio.to_thread(evidence.record_pid, server.pid)
        except EvidenceError as error:
            self.listener.problem(str(error))

    async def stop(self, asked_by: str = "the operator") -> StopReport | None:
        """Stop the server we started (the whole tree) and record how; None when there is none running."""
        server = self.server
        if server is None or not server.running:
            return None
        self._stopping = True
        self._asked_by = asked_by
        self.set_status("stopping")
        try:
            self._stop_report = await server.stop()
        finally:  # even when the stop itself failed, the end is recorded and waiters are released
            self._flush()
            await self._record_end(server, server.exit)  # the exit watcher leaves a stop to us: we have the report
        return self._stop_report

    def release(self) -> None:
        """Stop following the server and leave it running (the operator chose to); say so in `stop.json`."""
        server = self.server
        if server is None or not server.running:
            return
        server.release()
        self._stopping = True
        for task in list(self._tasks):
            task.cancel()
        evidence = self.evidence
        if evidence is not None:
            try:
                evidence.record_facts(self.view.facts)
                evidence.record_stop("left running", asked_by="the operator", ended=None, report=None,
                                     root_cause=self.root_cause,
                                     extra={"pid": server.pid, "url": self.status.url,
                                            "log": str(server.log_path)})
            except EvidenceError as error:
                self.listener.problem(str(error))

    async def _watch_exit(self, server: ServerProcess) -> None:
        ended = await server.wait()
        self._flush()
        if server is not self.server:
            return
        self._gone.set()
        if not self._stopping:
            await self._record_end(server, ended)

    async def _record_end(self, server: ServerProcess, ended: ServerExit | None) -> None:
        """Write the final facts and `stop.json`, then tell the listener how the server ended.

        The evidence is on disk before the state changes, so whoever waits for
        the end (`wait_settled`, `wait_ended`) finds the files complete.
        """
        if self._ending:
            return
        self._ending = True
        self._gone.set()
        root = self.root_cause
        report = self._stop_report
        state: ServerState = "stopped"
        detail: str | None = None
        if self._stopping:
            how = "stopped"
            if report is not None and report.survivors:
                how, state = "failed", "failed"
                detail = (f"still running after {report.last_signal}: pid(s) {', '.join(map(str, report.survivors))}; "
                          "stop them from the Devices area (k) or as root")
        elif ended is not None and ended.returncode == 0 and root is None:
            how, detail = "exited", f"Nobody asked it to stop: {ended.sentence()}."
        else:
            how, state = "failed", "failed"
            detail = ended.sentence() if ended is not None else "the server ended"
            if root is not None:
                detail = (f"{detail}. Root cause: {root.kind}{' ' + root.code if root.code else ''} — "
                          f"{diagnosis_message(root)} — {root.hint}")
        await self._write_end(how, ended)
        self.set_status(state, pid=None, detail=detail)
        self._ended.set()

    async def _write_end(self, how: str, ended: ServerExit | None) -> None:
        evidence, saver = self.evidence, self._saver
        if evidence is None:
            return
        try:
            if saver is not None:
                await saver.flush(self.view.facts)
            await asyncio.to_thread(evidence.record_stop, how, asked_by=self._asked_by, ended=ended,
                                    report=self._stop_report, root_cause=self.root_cause)
        except EvidenceError as error:
            self.listener.problem(str(error))

    # ---- attaching ---------------------------------------------------------------------------

    def attach(self, log_path: Path | None, url: str | None, from_start: bool, api_key: str | None = None,
               run_dir: Path | None = None) -> None:
        """Follow someone else's server: its log file and/or its URL. Never signals anything.

        With `run_dir`, `attach.json` and `facts.json` go there (a folder that
        cannot be written is reported through `problem`, and the attach goes on).
        """
        self.detach()
        self.reset()
        self._api_key = api_key
        self._redact = Redactor(values=[api_key] if api_key else [])
        self.server = None
        self.evidence = None
        if run_dir is not None:
            evidence = RunEvidence(run_dir)
            self.evidence = evidence
            self._saver = FactsSaver(evidence, FACTS_SAVE_EVERY_S, self.listener.problem)
            self._write_later(lambda: evidence.record_attach(log_path, url, from_start))
        self.set_status("attached", pid=None, url=url, log_path=log_path, started_at=time.monotonic())
        if log_path is not None:
            self._tail_stop = asyncio.Event()
            self._spawn(self._follow(LogTail(log_path, from_start=from_start), self._tail_stop))
        if url:
            self.watch_metrics()

    def detach(self) -> None:
        """Stop following an attached server (it keeps running) and record that in `stop.json`."""
        if self._tail_stop is not None:
            self._tail_stop.set()
            self._tail_stop = None
        if self.status.state != "attached":
            return
        self._gone.set()
        self.set_status("not started", url=None, log_path=None, started_at=None)
        evidence, facts = self.evidence, self.view.facts
        self.evidence = None
        if self._saver is not None:
            self._saver.cancel()
            self._saver = None
        if evidence is not None:
            root = self.view.root_cause

            def record() -> None:
                evidence.record_facts(facts)
                evidence.record_stop("detached", asked_by="the operator", ended=None, report=None, root_cause=root)

            self._write_later(record)

    def _write_later(self, write: Callable[[], None]) -> None:
        """Run an evidence write in a thread without holding the caller; a failure is told as a problem."""
        async def run() -> None:
            try:
                await asyncio.to_thread(write)
            except EvidenceError as error:
                self.listener.problem(str(error))

        future = asyncio.ensure_future(run())
        self._writes.add(future)
        future.add_done_callback(self._writes.discard)

    async def _follow(self, tail: LogTail, stop: asyncio.Event) -> None:
        async def deliver(batch: TailBatch) -> None:
            if batch.truncated or batch.rotated:
                what = "truncated" if batch.truncated else "replaced (rotated)"
                await self._take_lines([f"[npu-console] the log file was {what}; reading it from its start"])
            if batch.lines:
                await self._take_lines(list(batch.lines))
            if self.status.state != "attached":
                return
            if batch.error:
                self.set_status("attached", detail=batch.error)
            elif batch.missing:
                self.set_status("attached", detail=f"{tail.path} does not exist (yet); waiting for it to appear")
            elif self.status.detail:
                self.set_status("attached")

        with tail:
            await follow(tail, deliver, stop=stop, should_wait=self._should_wait)

    # ---- readiness and metrics ---------------------------------------------------------------

    async def _confirm_ready(self) -> None:
        """Ready once the API answers, not on the log line alone (uvicorn binds after saying it started).

        A URL that never answers (a proxy in between, a wrong port in the
        profile) is still shown ready after `ready_probe_s`, with the reason.
        """
        url = self.status.url
        answered = True
        if url:
            answered = await api_answers(url, within_s=self._ready_probe_s, gone=self._gone,
                                         api_key=self._api_key, transport=self._transport)
        if self.status.state != "starting":
            return
        if answered:
            self.set_status("ready")
        else:
            self.set_status("ready", detail=f"the log says ready but {models_url(url or '')} does not answer")
        self.watch_metrics()

    def watch_metrics(self) -> None:
        """Scrape `/metrics` every `metrics_interval_s` while the server is ready or attached (one loop at a time)."""
        if self._metrics_task is not None and not self._metrics_task.done():
            return
        self._metrics_task = self._spawn(self._scrape_metrics())

    async def _scrape_metrics(self) -> None:
        import httpx

        from tui.api.metrics_fetch import fetch_metrics

        gone = self._gone
        async with httpx.AsyncClient(transport=self._transport) as client:
            while (url := self.status.serving_url) and not gone.is_set():
                result = await fetch_metrics(client, url, api_key=self._api_key)
                at = time.monotonic()
                if isinstance(result, ServingMetrics):
                    self.metrics.add(at, result)
                self.listener.metrics_read(result, at)
                try:
                    await asyncio.wait_for(gone.wait(), self._metrics_interval_s)
                except asyncio.TimeoutError:
                    pass

    # ---- lines ---------------------------------------------------------------------------------

    async def _take_lines(self, lines: list[str]) -> None:
        """Parse a batch in a worker thread, then queue its lines for the next flush (one batch at a time)."""
        facts = self._facts
        parsed = await asyncio.to_thread(parse_batch, facts, lines, self._line_number, self._redact)
        if facts is not self._facts:  # a new launch or attach began meanwhile: these lines are the old log's
            return
        self._line_number += len(lines)
        self._pending.extend(parsed.lines)
        if parsed.progress is not None:
            self.progress = parsed.progress
        self.stats_history.extend(parsed.stats)
        if parsed.view is not None:
            self.view = parsed.view
            self._facts_dirty = True
            if self._saver is not None:
                self._saver.changed(parsed.view.facts)
        if parsed.events:
            self.listener.log_events(parsed.events)
        if parsed.ready and self.status.state == "starting":
            self._spawn(self._confirm_ready())
        if self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_later(self._flush_s, self._flush)

    def _flush(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if self._pending:
            lines, self._pending = tuple(self._pending), []
            self.window.extend(lines)
            self.listener.lines_arrived(lines, self._line_number)
        if self._facts_dirty:
            wait = self._facts_told_at + self._facts_every_s - time.monotonic()
            if wait <= 0:
                self._tell_facts()
            elif self._facts_handle is None:
                self._facts_handle = asyncio.get_running_loop().call_later(wait, self._tell_facts)

    def _tell_facts(self) -> None:
        self._facts_handle = None
        if self._facts_dirty:
            self._facts_dirty = False
            self._facts_told_at = time.monotonic()
            self.listener.facts_changed(self.view)

    # ---- tasks ---------------------------------------------------------------------------------

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self) -> None:
        """Stop every loop of this pipeline (not the server: `stop` or `release` decide about that)."""
        for task in list(self._tasks):
            task.cancel()
        self._tasks.clear()
        if self._tail_stop is not None:
            self._tail_stop.set()
        for handle in (self._flush_handle, self._facts_handle):
            if handle is not None:
                handle.cancel()
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
