"""SIGTERM during the write: the runner cancels a stage with it, and the partial output must go."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tui.stages.dequant.errors import Terminated


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """Turn SIGTERM into an exception (main thread only) so the partial folder is cleaned up."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise Terminated(f"terminated by signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
