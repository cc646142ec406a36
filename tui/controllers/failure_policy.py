"""The console's error policy: a failure is one sentence on screen, its detail in the run's log.

`NpuConsoleApp._handle_exception` hands every failure to it. It replaces Textual's default, which ends the app
and prints a traceback with every local variable (the environment, and with it
`HF_TOKEN` and API keys) on any unhandled exception:

- a worker that fails (a launch into a read-only runs folder, a chat with a full
  disk, a stage list that cannot be read) becomes one redacted sentence
  (`notify`), the traceback without locals goes to `console.log` in the run
  folder (or the private fallback), and the console goes on;
- anything else is fatal: the detail is logged, the server we launched (unless
  the operator chose to leave it running) and the running stage are stopped,
  and the app exits with status 1 and one sentence. The CLI then sweeps every
  descendant (`tui.processes.console_end`), double-forked ones included.

In a headless test run the first failure is also kept where Textual's test
harness re-raises it at the end, so a test never passes over a broken worker.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Collection
from typing import TYPE_CHECKING

from rich.text import Text
from textual.worker import NoActiveWorker, Worker, WorkerFailed, get_current_worker

from tui.failures import ConsoleLog, failure_sentence
from tui.processes.tree import stop_tree, tree_mark
from tui.server.launcher import SERVER_ESCALATION, ServerProcess

if TYPE_CHECKING:
    from tui.app import NpuConsoleApp

_DOING = {
    "server-launch": "The launch",
    "server-stop": "The stop",
    "server-attach": "The attach",
    "attach-check": "The attach check",
    "server-exit": "Following the server's exit",
    "server-tail": "Following the server log",
    "server-metrics": "Reading /metrics",
    "server-ready": "The readiness check",
    "playground-reply": "The chat reply",
    "playground-dialog": "The playground dialog",
    "stage": "The stage",
    "stage-pick": "Starting the stage",
    "stage-cancel": "Cancelling the stage",
    "stage-runs": "Listing the stage runs (w)",
    "stop-holder": "Stopping the process",
    "chip-detail": "Reading the chip's rates",
    "device-poll": "Reading the devices",
    "host": "Reading the host",
    "profiles": "Switching the profile",
    "variants": "Switching the variant",
    "run-dir": "Creating the run folder",
    "report": "Writing the report",
    "quit": "Quitting",
}


class FailurePolicy:
    """What the console does with a failure; `handle` is the app's `_handle_exception`."""

    def __init__(self, app: NpuConsoleApp) -> None:
        self.app = app

    def kept_running(self) -> Collection[str]:
        """Tree marks of what the operator chose to leave running at quit (the console's end keeps them)."""
        launched = self._launched()
        if launched is not None and launched.released:
            return (tree_mark(launched.log_path),)
        return ()

    def _launched(self) -> ServerProcess | None:
        control = getattr(self.app, "server", None)  # a failure can come before the app has set everything up
        return control.server if control is not None else None

    def handle(self, error: Exception) -> None:
        if not self.app.is_running:  # the app is closing: a redraw that found its widgets gone ends nothing more
            self._log_failure(failure_sentence(error, "While closing, the console"), error)
            return
        if isinstance(error, WorkerFailed):
            self._worker_failed(error.error, _current_worker())
        else:
            self._fatal(error)

    def _worker_failed(self, error: BaseException, worker: Worker[object] | None) -> None:
        group = worker.group if worker is not None else ""
        doing = _DOING.get(group) or (f"The task {worker.name}" if worker is not None and worker.name else None)
        sentence = failure_sentence(error, doing)
        where = self._log_failure(sentence, error)
        self.app.notify(sentence + (f" Details in {where}." if where else ""), title="Failed", severity="error",
                        timeout=15, markup=False)  # an error's brackets are text, not markup
        self._keep_for_tests(error)

    def _fatal(self, error: BaseException) -> None:
        sentence = failure_sentence(error, "The console")
        where = self._log_failure(sentence, error)
        self._stop_what_we_started()
        self._keep_for_tests(error)
        said = f"npu-console: {sentence} It stopped what it had started." + (f" Details in {where}." if where else "")
        self.app.exit(return_code=1, message=Text(said))  # Text: brackets in an error message are not markup

    def _log_failure(self, sentence: str, error: BaseException) -> str | None:
        session = getattr(self.app, "session", None)
        path = ConsoleLog().record(session.run_dir if session is not None else None, sentence, error)
        return str(path) if path is not None else None

    def _keep_for_tests(self, error: BaseException) -> None:
        if self.app.is_headless and self.app._exception is None and isinstance(error, Exception):
            self.app._exception = error  # Textual's test harness re-raises it when the test's app closes

    def _stop_what_we_started(self) -> None:
        """Start stopping our server (unless left running on purpose) and the stage; the CLI's sweep follows."""
        launched = self._launched()
        if launched is not None and launched.running and not launched.released:
            threading.Thread(
                target=stop_tree, args=(launched.pid, SERVER_ESCALATION),
                kwargs={"with_group": True, "mark": tree_mark(launched.log_path)},
                name="fatal-stop-server", daemon=True,
            ).start()
        stages = getattr(self.app, "stages_area", None)  # a failure can come before the app has set everything up
        stage = stages.running if stages is not None else None
        if stage is not None:
            try:
                asyncio.get_running_loop().create_task(stage.cancel(), name="fatal-stop-stage")
            except RuntimeError:
                pass


def _current_worker() -> Worker[object] | None:
    try:
        return get_current_worker()
    except NoActiveWorker:
        return None
