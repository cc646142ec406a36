"""The Server area's link to the headless server pipeline: the pipeline's news as typed messages.

All the work — the process or the followed log, the threaded parse, the log
window, the facts, stats and metrics histories, readiness, the evidence files —
is `tui.server.pipeline.ServerPipeline`, the same object `npu-console serve`
uses, so the console and the CLI leave the same files for the same launch.
This invisible widget only owns one pipeline and turns what it hears into
messages carrying frozen values (`ServerStatus`, `LogLine`s, `FactsView`,
`ServingMetrics`); it never touches another widget. The app's handlers draw.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from textual.widget import Widget

from tui.processes.tree import StopReport
from tui.screens.messages import ServerFactsChanged, ServerLinesArrived, ServerMetricsRead, ServerStatusChanged
from tui.server.launch_plan import LaunchPlan
from tui.server.launcher import ServerProcess
from tui.server.log_window import LogLine, LogWindow
from tui.server.logfacts.diagnosis import Diagnosis
from tui.server.pipeline import PipelineListener, ServerPipeline
from tui.server.pipeline_parse import FactsView
from tui.server.serving_metrics import MetricsHistory, ServingMetrics
from tui.server.status import ServerState, ServerStatus

BEHIND_AT = 20  # messages waiting in the app's queue before the log waits on disk (toolong's back-pressure)

__all__ = ["FactsView", "ServerControl"]


class ServerControl(Widget):
    """Not drawn; owns the console's `ServerPipeline` and posts what it hears to the app."""

    DEFAULT_CSS = "ServerControl { display: none; }"

    def __init__(self, http_transport: Any | None = None) -> None:
        super().__init__()
        self._http_transport = http_transport
        self._pipeline: ServerPipeline | None = None

    @property
    def pipeline(self) -> ServerPipeline:
        """Made on first use, on the app's event loop (the pipeline's events belong to one loop)."""
        if self._pipeline is None:
            self._pipeline = ServerPipeline(_Poster(self), http_transport=self._http_transport,
                                            should_wait=self._behind)
        return self._pipeline

    # ---- what the app reads (immutable values, or bounded structures it only reads) --------------------

    @property
    def status(self) -> ServerStatus:
        return self.pipeline.status

    @property
    def window(self) -> LogWindow:
        return self.pipeline.window

    @property
    def view(self) -> FactsView:
        return self.pipeline.view

    @property
    def stats_history(self) -> Any:
        return self.pipeline.stats_history

    @property
    def metrics(self) -> MetricsHistory:
        return self.pipeline.metrics

    @property
    def progress(self) -> tuple[str, int] | None:
        return self.pipeline.progress

    @property
    def server(self) -> ServerProcess | None:
        return self.pipeline.server

    def root_cause(self) -> Diagnosis | None:
        return self.pipeline.root_cause

    # ---- what the app asks --------------------------------------------------------------------------

    def set_status(self, state: ServerState, **changes: Any) -> None:
        self.pipeline.set_status(state, **changes)

    async def launch(self, plan: LaunchPlan, env: Mapping[str, str], run_dir: Path, url: str | None,
                     api_key: str | None) -> None:
        """Record and start the launch (raises `EvidenceError` or `LaunchError`, each one sentence)."""
        await self.pipeline.launch(plan, env, run_dir, url, api_key)

    async def stop(self) -> StopReport | None:
        return await self.pipeline.stop()

    def release(self) -> None:
        """Leave the server running (the operator chose to at quit); `stop.json` says so."""
        self.pipeline.release()

    def attach(self, log_path: Path | None, url: str | None, from_start: bool, api_key: str | None,
               run_dir: Path | None = None) -> None:
        self.pipeline.attach(log_path, url, from_start, api_key, run_dir)

    def detach(self) -> None:
        self.pipeline.detach()

    async def wait_settled(self, timeout_s: float | None = None) -> ServerStatus:
        """Until the launch is ready, failed or stopped (an event, not a poll); the status then."""
        return await self.pipeline.wait_settled(timeout_s)

    async def on_unmount(self) -> None:
        if self._pipeline is not None:
            await self._pipeline.close()

    def _behind(self) -> bool:
        """The UI has not caught up: let the lines wait on disk."""
        return self.app.message_queue_size > BEHIND_AT


class _Poster(PipelineListener):
    """What the pipeline says, posted as messages from the control (on the app's loop, never drawing)."""

    def __init__(self, control: ServerControl) -> None:
        self._control = control

    def status_changed(self, status: ServerStatus) -> None:
        self._control.post_message(ServerStatusChanged(status))

    def lines_arrived(self, lines: tuple[LogLine, ...], total: int) -> None:
        self._control.post_message(ServerLinesArrived(list(lines), total))

    def facts_changed(self, view: FactsView) -> None:
        self._control.post_message(ServerFactsChanged())

    def metrics_read(self, result: ServingMetrics | str, at: float) -> None:
        self._control.post_message(ServerMetricsRead(result, at))

    def problem(self, sentence: str) -> None:
        if self._control.is_attached:
            self._control.app.notify(sentence, title="Evidence", severity="error", timeout=12)
