"""Every way a subcommand can end, as the CLI contract says it must: one sentence and the right status.

`run_guarded` wraps a subcommand: output into a closed pipe ends quietly
(`smi --json | head`), Ctrl-C is status 130, SIGTERM 143, SIGHUP 129 (with
`interrupt_signals`), and anything unexpected is one redacted sentence on
stderr with the detail (the traceback, without local variables) in the
console log — never a traceback on the terminal.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator
from types import FrameType

from tui.failures import ConsoleLog, failure_sentence

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_CLOSED_PIPE = 141  # 128 + SIGPIPE: what a shell reports for `cat` writing into a closed pipe
EXIT_INTERRUPTED = 128 + signal.SIGINT


class InterruptSignals:
    """Which termination signal turned into the interrupt, once one has (see `interrupt_signals`)."""

    def __init__(self) -> None:
        self.received: int | None = None

    @property
    def exit_status(self) -> int:
        """128 + the signal: 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP."""
        return 128 + (self.received or signal.SIGINT)

    @property
    def name(self) -> str:
        """What interrupted, for the sentence: `SIGTERM`, `SIGHUP`, or `Ctrl-C`."""
        return signal.Signals(self.received).name if self.received else "Ctrl-C"


def take_back_interrupt() -> None:
    """Give SIGINT back its Python handler when this process started with it ignored.

    A non-interactive shell starts a background job (`npu-console bench … &`) with
    SIGINT ignored. The console stops what it started through SIGINT (Ctrl-C, and
    SIGTERM/SIGHUP turned into it, see `interrupt_signals`), so an inherited "ignore"
    would leave `kill PID` doing nothing; taking the handler back also lets the
    stages and servers it starts begin with SIGINT at its default.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def hangup_ignored() -> bool:
    """True under `nohup`: the operator asked that a hang-up not end this command (nor what it runs)."""
    return signal.getsignal(signal.SIGHUP) is signal.SIG_IGN


@contextlib.contextmanager
def interrupt_signals(*signals: signal.Signals) -> Iterator[InterruptSignals]:
    """Within the block, SIGTERM and SIGHUP (by default; not SIGHUP under nohup) act as Ctrl-C does.

    The signal is turned into a SIGINT to this process, so `asyncio.run` cancels its
    main task (which stops what it started) and raises KeyboardInterrupt, exactly
    as on Ctrl-C. The previous handlers come back after the block.
    """
    chosen = signals or (signal.SIGTERM, signal.SIGHUP)
    if hangup_ignored():  # nohup: a hang-up stays ignored, as the operator asked
        chosen = tuple(sig for sig in chosen if sig != signal.SIGHUP)
    seen = InterruptSignals()

    def handler(signum: int, _frame: FrameType | None) -> None:
        if seen.received is None:
            seen.received = signum
        os.kill(os.getpid(), signal.SIGINT)

    previous = {sig: signal.signal(sig, handler) for sig in chosen}
    try:
        yield seen
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_guarded(prog: str, command: Callable[[], int]) -> int:
    """`command()`'s status; a closed pipe, an interrupt or an unexpected error as the contract says."""
    try:
        return command()
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_CLOSED_PIPE
    except KeyboardInterrupt:
        say(f"{prog}: interrupted.")
        return EXIT_INTERRUPTED
    except RecursionError as error:
        where = _log(f"{prog}: the input is nested too deeply", error)
        say(f"{prog}: the input is nested too deeply to read{where}.")
        return EXIT_BAD_INPUT
    except Exception as error:  # the last line of defence: a sentence, never a traceback
        sentence = failure_sentence(error).rstrip(".")
        where = _log(f"{prog}: {sentence}", error)
        say(f"{prog}: {sentence}{where}.")
        return EXIT_FAILED


def _log(sentence: str, error: BaseException) -> str:
    path = ConsoleLog().record(None, sentence, error)
    return f" (details in {path})" if path is not None else ""


def say(sentence: str) -> None:
    """`sentence` on stderr, flushed; nothing when the terminal is gone."""
    try:
        print(sentence, file=sys.stderr, flush=True)
    except OSError:  # the terminal went away with the hang-up: nobody is left to read it
        pass


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not complain about the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
