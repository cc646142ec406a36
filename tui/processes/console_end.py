"""How the console ends, whatever ends it: nothing it started is left behind unless the operator said so.

`ConsoleEnd` is installed by the CLI around the TUI. It makes the console a
child subreaper (so a server's double-forked daemon stays among our
descendants), turns SIGHUP (the SSH connection or tmux pane went away), a
terminal that vanishes without one, and SIGTERM into an orderly exit with
status 128+signal, and — once the app has returned, for any reason: quit, crash, hang-up — stops every descendant except
the server tree the operator chose to leave running (kept by its tree mark, and
offered again at the next start). A watchdog makes sure a hang-up ends the
process even when the app cannot finish drawing on a terminal that is gone.
Headless: it knows the app only through two callables.
"""

from __future__ import annotations

import asyncio
import os
import select
import signal
import sys
import threading
from collections.abc import Callable, Collection
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from tui.failures import ConsoleLog, failure_sentence
from tui.processes.tree import StopReport, become_subreaper, stop_descendants

END_SIGNALS = (signal.SIGHUP, signal.SIGTERM)
WATCHDOG_S = 30.0  # after a hang-up, the most the app gets to close before the console ends without it
SWEEP_ESCALATION: tuple[tuple[signal.Signals, float], ...] = (
    (signal.SIGTERM, 10.0),  # vLLM shuts down cleanly on SIGTERM too; a shell's background job ignores SIGINT
    (signal.SIGKILL, 3.0),
)


class ConsoleEnd:
    """The console's end: signals in, descendants stopped out.

    `request_exit(status)` asks the app to exit (called on the event loop's thread);
    `keep_marks()` names the trees to leave running (the operator's "leave it running").
    """

    def __init__(self, request_exit: Callable[[int], None], keep_marks: Callable[[], Collection[str]],
                 *, watchdog_s: float = WATCHDOG_S) -> None:
        self._request_exit = request_exit
        self._keep_marks = keep_marks
        self._watchdog_s = watchdog_s
        self._lock = threading.Lock()
        self._finished = False
        self.received: int | None = None
        self.subreaper = False
        self.report: StopReport | None = None

    def install(self) -> None:
        """Become a subreaper and take over SIGHUP and SIGTERM (call before the app runs)."""
        self.subreaper = become_subreaper()
        for sig in END_SIGNALS:
            signal.signal(sig, self._on_signal)

    def watch_terminal(self, fd: int) -> None:
        """Treat the terminal going away (its other end closed, no SIGHUP sent) as a hang-up.

        An SSH drop normally sends SIGHUP, but a terminal can vanish without one (the console
        not in the foreground, a multiplexer that only closes its side). A daemon thread polls
        `fd` for POLLHUP only (nothing is read) and raises SIGHUP at this process when it comes.
        """
        if not hasattr(select, "poll") or not os.isatty(fd):
            return
        threading.Thread(target=self._poll_hangup, args=(fd,), name="console-terminal-watch", daemon=True).start()

    def _poll_hangup(self, fd: int) -> None:
        poller = select.poll()
        poller.register(fd, 0)  # no input events: only POLLHUP, POLLERR and POLLNVAL are reported
        while not self._finished and self.received is None:
            try:
                events = poller.poll(1000)
            except OSError:
                return
            if any(mask & (select.POLLHUP | select.POLLERR | select.POLLNVAL) for _, mask in events):
                os.kill(os.getpid(), signal.SIGHUP)
                return

    @property
    def exit_status(self) -> int | None:
        """128 + the signal that ended the console, or None when no signal did."""
        return None if self.received is None else 128 + self.received

    def finish(self) -> StopReport | None:
        """Stop what the console started (once; later calls return the first report)."""
        with self._lock:
            if self._finished:
                return self.report
            self._finished = True
            try:
                self.report = stop_descendants(tuple(self._keep_marks()), SWEEP_ESCALATION)
            except Exception:  # a sweep must never be the thing that leaves a traceback
                self.report = None
            return self.report

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if self.received is not None:
            return  # a second hang-up changes nothing: the end is under way
        self.received = signum
        status = 128 + signum
        threading.Thread(target=self._watchdog, args=(status,), name="console-end-watchdog", daemon=True).start()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not running yet (or any more): end here
            self.finish()
            os._exit(status)
        loop.call_soon_threadsafe(self._request_exit, status)

    def _watchdog(self, status: int) -> None:
        """If the app has not returned in time (a terminal that is gone can block its last writes), end anyway."""
        threading.Event().wait(self._watchdog_s)
        if self._finished:
            return
        self.finish()
        try:
            sys.stderr.write(f"npu-console: ended by {signal.Signals(status - 128).name}; "
                             "stopped what it had started.\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os._exit(status)


class ConsoleApp(Protocol):
    """What `run_console_app` needs of the app (the Textual app, seen without importing Textual)."""

    @property
    def return_code(self) -> int | None: ...

    def run(self) -> object: ...

    def exit(self, result: None = None, return_code: int = 0, message: Any = None) -> None: ...

    def kept_running(self) -> Collection[str]: ...


def run_console_app(app: ConsoleApp, run_dir: Callable[[], Path | None] = lambda: None) -> int:
    """Run the TUI to its end and stop what it started; the exit status (128+signal after a signal).

    Whatever escapes the app itself (a terminal that vanished under its driver)
    is one sentence on stderr, its detail in the console log.
    """
    end = ConsoleEnd(lambda status: app.exit(return_code=status), app.kept_running)
    end.install()
    end.watch_terminal(sys.stdin.fileno())
    _quiet_hooks(run_dir)
    crashed: str | None = None
    try:
        app.run()
    except KeyboardInterrupt:
        end.received = end.received or signal.SIGINT
    except Exception as error:
        sentence = failure_sentence(error, "The console")
        path = ConsoleLog().record(run_dir(), sentence, error)
        crashed = sentence + (f" Details in {path}." if path is not None else "")
    finally:
        report = end.finish()
    if report is not None and report.survivors:
        _say(f"npu-console: still running after {report.last_signal}: pid(s) "
             f"{', '.join(map(str, report.survivors))}; stop them as their owner or root.")
    if crashed is not None:
        _say(f"npu-console: {crashed} It stopped what it had started.")
        return 1
    if end.exit_status is not None:
        return end.exit_status
    return app.return_code or 0


def _quiet_hooks(run_dir: Callable[[], Path | None]) -> None:
    """Exceptions Python would print on its own (a thread's, an object's `__del__` at exit) go to the log.

    An asyncio transport collected after its loop closed prints "Exception ignored … Traceback" on
    the terminal at interpreter exit; the console promises no traceback on screen, ever.
    """
    def to_log(error: BaseException | None, what: str) -> None:
        if error is not None:
            try:
                ConsoleLog().record(run_dir(), what, error)
            except Exception:
                pass

    sys.unraisablehook = lambda hook: to_log(hook.exc_value, f"ignored: {hook.err_msg or 'unraisable'}")
    threading.excepthook = lambda hook: to_log(hook.exc_value, "an exception in a background thread")


def _say(sentence: str) -> None:
    try:
        print(sentence, file=sys.stderr, flush=True)
    except (OSError, ValueError):  # no terminal left after a hang-up
        pass
