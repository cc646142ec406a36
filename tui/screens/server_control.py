"""The server the console watches: one it launched, or one it attached to.

An invisible widget on the main screen that owns the `ServerProcess` (or the
log tail of someone else's server), feeds every line to the log-facts parser,
keeps the bounded log window, polls `/metrics` while the server is up, and
tells the app what changed with messages. Lines are delivered in batches at
most every 50 ms, however fast the server writes, so the UI repaints at a
bounded rate.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from textual import work
from textual.timer import Timer
from textual.widget import Widget

from tui.proc_tree import StopReport
from tui.screens.messages import ServerFactsChanged, ServerLinesArrived, ServerMetricsRead, ServerStatusChanged
from tui.server.launcher import ServerExit, ServerProcess
from tui.server.log_window import LogLine, LogWindow, kind_of
from tui.server.logfacts import LogFacts
from tui.server.logfacts.diagnosis import Diagnosis
from tui.server.logfacts.events import ErrorFound, Progress, Ready, Stats, StatsUpdated
from tui.server.logfacts.phases import Phase
from tui.server.status import ServerState, ServerStatus
from tui.server.tail import LogTail, TailBatch, follow

FLUSH_S = 0.05
FACTS_EVERY_S = 0.25  # the facts panel is redrawn at most 4 times a second, however busy the log
STATS_KEPT = 120
METRICS_INTERVAL_S = 2.0
READY_PROBE_S = 30.0
PROBE_TIMEOUT_S = 2.0
PROBE_INTERVAL_S = 0.2


class ServerControl(Widget):
    """Not drawn; runs the server's reader, tail and metrics loops."""

    DEFAULT_CSS = "ServerControl { display: none; }"

    def __init__(self, http_transport: Any | None = None) -> None:
        super().__init__()
        self.status = ServerStatus()
        self.window = LogWindow()
        self.facts = LogFacts()  # fed in a worker thread, one batch at a time; read `view` instead
        self.view = FactsView.of(self.facts)
        self._transport = http_transport
        self._server: ServerProcess | None = None
        self._tail_stop: asyncio.Event | None = None
        self._pending: list[LogLine] = []
        self._flush_timer: Timer | None = None
        self._line_number = 0
        self._progress: tuple[str, int] | None = None
        self._facts_dirty = False
        self._facts_posted_at = 0.0
        self._facts_timer: Timer | None = None
        self._stopping = False
        self._api_key: str | None = None
        self.stats_history: deque[Stats] = deque(maxlen=STATS_KEPT)  # the log's periodic stats lines

    # ---- state ---------------------------------------------------------------------------------

    @property
    def server(self) -> ServerProcess | None:
        return self._server

    @property
    def progress(self) -> tuple[str, int] | None:
        return self._progress

    def set_status(self, state: ServerState, **changes: Any) -> None:
        """Move to `state` (the detail sentence is cleared unless given) and tell the app."""
        self.status = replace(self.status, state=state, **{"detail": None, **changes})
        self.post_message(ServerStatusChanged(self.status))

    def reset_log(self) -> None:
        """Forget the previous server's lines and facts (its log stays on disk)."""
        self.window.clear()
        self.facts = LogFacts()
        self.view = FactsView.of(self.facts)
        self._line_number = 0
        self._progress = None
        self.stats_history.clear()
        self._pending.clear()
        self._facts_dirty = True
        self._flush()

    def root_cause(self) -> Diagnosis | None:
        return self.view.root_cause

    # ---- launching and stopping ----------------------------------------------------------------

    async def launch(self, argv: Sequence[str], env: Mapping[str, str], log_path: Path, url: str,
                     api_key: str | None) -> None:
        """Start the server (raises LaunchError with a sentence when it cannot start at all)."""
        self.reset_log()
        self._stopping = False
        self._api_key = api_key
        self._server = await ServerProcess.start(argv, env, log_path, self._take_lines, should_wait=self._behind)
        self.set_status("starting", pid=self._server.pid, url=url, log_path=log_path,
                        started_at=time.monotonic())
        self._watch_exit(self._server)

    async def stop(self) -> StopReport | None:
        """Stop the server we started (the whole tree); None when there is none."""
        server = self._server
        if server is None or not server.running:
            return None
        self._stopping = True
        self.set_status("stopping")
        return await server.stop()

    @work(group="server-exit")
    async def _watch_exit(self, server: ServerProcess) -> None:
        ended: ServerExit = await server.wait()
        self._flush()
        if server is not self._server:
            return
        if self._stopping:
            self.set_status("stopped", pid=None, detail=None)
            return
        root = self.root_cause()
        detail = ended.sentence()
        if ended.returncode == 0 and root is None:
            self.set_status("stopped", pid=None, detail=f"Nobody asked it to stop: {detail}.")
            return
        if root is not None:
            detail = f"{detail}. Root cause: {root.kind}{' ' + root.code if root.code else ''} — {root.hint}"
        self.set_status("failed", pid=None, detail=detail)

    # ---- attaching -----------------------------------------------------------------------------

    def attach(self, log_path: Path | None, url: str | None, from_start: bool, api_key: str | None) -> None:
        """Follow someone else's server: its log file and/or its URL. Never signals anything."""
        self.detach()
        self.reset_log()
        self._api_key = api_key
        self.set_status("attached", pid=None, url=url, log_path=log_path, started_at=time.monotonic())
        if log_path is not None:
            self._tail_stop = asyncio.Event()
            self._follow(LogTail(log_path, from_start=from_start), self._tail_stop)
        if url:
            self.watch_metrics()

    def detach(self) -> None:
        if self._tail_stop is not None:
            self._tail_stop.set()
            self._tail_stop = None
        if self.status.state == "attached":
            self.set_status("not started", url=None, log_path=None, started_at=None)

    @work(group="server-tail")
    async def _follow(self, tail: LogTail, stop: asyncio.Event) -> None:
        async def deliver(batch: TailBatch) -> None:
            if batch.truncated or batch.rotated:
                what = "truncated" if batch.truncated else "replaced (rotated)"
                await self._take_lines([f"[npu-console] the log file was {what}; reading it from its start"])
            if batch.lines:
                await self._take_lines(list(batch.lines))
            if batch.error:
                self.set_status("attached", detail=batch.error)
            elif batch.missing:
                self.set_status("attached", detail=f"{tail.path} does not exist (yet); waiting for it to appear")
            elif self.status.detail:
                self.set_status("attached")

        with tail:
            await follow(tail, deliver, stop=stop, should_wait=self._behind)

    # ---- metrics -------------------------------------------------------------------------------

    @work(group="server-metrics", exclusive=True)
    async def watch_metrics(self) -> None:
        """Scrape `/metrics` every 2 s while the server is ready or attached."""
        import httpx

        from tui.api.metrics_fetch import fetch_metrics

        async with httpx.AsyncClient(transport=self._transport) as client:
            while self.status.state in ("ready", "attached") and self.status.url:
                result = await fetch_metrics(client, self.status.url, api_key=self._api_key)
                self.post_message(ServerMetricsRead(result, time.monotonic()))
                await asyncio.sleep(METRICS_INTERVAL_S)

    @work(group="server-ready", exclusive=True)
    async def _confirm_ready(self) -> None:
        """Ready once the API answers, not on the log line alone.

        The log says "Application startup complete." before uvicorn binds the
        port, so a request sent on that line can meet a refused connection. A
        server whose URL never answers (a proxy in between, a wrong port in the
        profile) is still shown ready after `READY_PROBE_S`, with the reason.
        """
        import httpx

        url = self.status.url
        if url:
            probe = f"{url.rstrip('/').removesuffix('/v1')}/v1/models"
            headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else None
            deadline = time.monotonic() + READY_PROBE_S
            async with httpx.AsyncClient(transport=self._transport, timeout=PROBE_TIMEOUT_S) as client:
                while time.monotonic() < deadline and self.status.state == "starting":
                    try:
                        if (await client.get(probe, headers=headers)).status_code < 500:
                            break
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(PROBE_INTERVAL_S)
                else:
                    if self.status.state == "starting":
                        self.set_status("ready", detail=f"the log says ready but {probe} does not answer")
                        self.watch_metrics()
                    return
        if self.status.state == "starting":
            self.set_status("ready")
            self.watch_metrics()

    # ---- lines ---------------------------------------------------------------------------------

    def _behind(self) -> bool:
        """The UI has not caught up: let the lines wait on disk (toolong's back-pressure)."""
        return self.app.message_queue_size > 20

    async def _take_lines(self, lines: list[str]) -> None:
        """Parse and classify a batch in a worker thread (a flood of lines must not hold the UI's loop),
        then queue the lines for the next flush. The caller awaits this: one batch at a time."""
        facts = self.facts
        parsed = await asyncio.to_thread(_parse_batch, facts, lines, self._line_number)
        if facts is not self.facts:  # a new launch or attach began meanwhile: these lines are the old log's
            return
        self._line_number += len(lines)
        self._pending.extend(parsed.lines)
        if parsed.progress is not None:
            self._progress = parsed.progress
        self.stats_history.extend(parsed.stats)
        if parsed.view is not None:
            self.view = parsed.view
            self._facts_dirty = True
        if parsed.ready and self.status.state == "starting":
            self._confirm_ready()
        if self._flush_timer is None:
            self._flush_timer = self.set_timer(FLUSH_S, self._flush)

    def _flush(self) -> None:
        self._flush_timer = None
        if self._pending:
            lines, self._pending = self._pending, []
            self.window.extend(lines)
            self.post_message(ServerLinesArrived(lines, self._line_number))
        if self._facts_dirty:
            wait = self._facts_posted_at + FACTS_EVERY_S - time.monotonic()
            if wait <= 0:
                self._post_facts()
            elif self._facts_timer is None:
                self._facts_timer = self.set_timer(wait, self._post_facts)

    def _post_facts(self) -> None:
        self._facts_timer = None
        if self._facts_dirty:
            self._facts_dirty = False
            self._facts_posted_at = time.monotonic()
            self.post_message(ServerFactsChanged())


@dataclass(frozen=True)
class FactsView:
    """What the log has said so far, as one immutable value the UI can read while parsing goes on."""

    facts: Mapping[str, Any]
    phases: tuple[Phase, ...]
    root_cause: Diagnosis | None
    error_count: int

    @classmethod
    def of(cls, facts: LogFacts) -> FactsView:
        return cls(facts.facts(), tuple(facts.phases()), facts.root_cause, len(facts.errors))


@dataclass(frozen=True)
class ParsedBatch:
    lines: tuple[LogLine, ...]
    progress: tuple[str, int] | None
    stats: tuple[Stats, ...]
    ready: bool
    view: FactsView | None  # None when no line of the batch changed a fact


def _parse_batch(facts: LogFacts, lines: list[str], numbered_from: int) -> ParsedBatch:
    """Feed `lines` to `facts` and classify each (runs in a worker thread; `facts` is touched only here)."""
    shown: list[LogLine] = []
    progress: tuple[str, int] | None = None
    stats: list[Stats] = []
    ready = False
    changed = False
    for offset, text in enumerate(lines, start=1):
        events = facts.feed_line(text)
        hint = None
        has_error = False
        for event in events:
            if isinstance(event, ErrorFound):
                has_error = True
                hint = event.diagnosis.hint
            elif isinstance(event, Progress):
                progress = (event.kind, event.pct)
            elif isinstance(event, StatsUpdated):
                stats.append(event.stats)
            elif isinstance(event, Ready):
                ready = True
        changed = changed or bool(events)
        shown.append(LogLine(numbered_from + offset, text, kind_of(text, has_error, bool(events)), hint))
    return ParsedBatch(tuple(shown), progress, tuple(stats), ready, FactsView.of(facts) if changed else None)
