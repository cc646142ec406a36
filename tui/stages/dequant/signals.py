"""SIGTERM (and Ctrl-C) during the write: a flag the work loops check, never an exception from the handler.

The runner cancels a stage with SIGTERM, and the partial output must then go. Raising from the signal
handler — what this stage once did — can land anywhere in the main thread, including inside the lock of
the writer's queue or of a thread join: the lock is never released, the writer thread blocks on it, and
the process hangs (seen once in about 53 SIGTERMs). So the handler only stores the signal number (a plain
attribute write: no lock, no allocation worth the name), and the loops that can run for long — the
writer's queue put and get, the reads, the chunk loop, the steps between files — call ``check()``, which
raises ``Terminated`` (or ``KeyboardInterrupt`` for Ctrl-C) from ordinary code, where cleanup is safe.
Every wait in those loops has a short timeout, so the writer thread wakes up and stops on its own.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from tui.stages.dequant.errors import Terminated

CANCEL_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class CancelFlag:
    """Set by a cancelling signal; read by every long loop of the run (any thread)."""

    def __init__(self) -> None:
        self.signum: int | None = None

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def request(self, signum: int) -> None:
        """What the handler does: remember the first signal. Safe in a signal handler (no lock taken)."""
        if self.signum is None:
            self.signum = signum

    def check(self) -> None:
        """Raise the cancellation in the calling thread, if one was requested."""
        if self.signum is None:
            return
        if self.signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Terminated(f"terminated by signal {self.signum}")

    def _handler(self, signum: int, _frame: FrameType | None) -> None:
        self.request(signum)

    @contextmanager
    def on_signals(self) -> Iterator[CancelFlag]:
        """Within the block, SIGTERM and SIGINT set this flag (main thread only; elsewhere nothing changes).

        The previous handlers come back after the block; a signal that arrives during cleanup is absorbed
        by the flag, so the cleanup itself is never cut short.
        """
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {sig: signal.signal(sig, self._handler) for sig in CANCEL_SIGNALS}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


NEVER = CancelFlag()
"""A flag no signal sets: the default for readers and writers used outside a run."""
