"""What a failure line means given the lines before it: a traceback through quantization code, a stop.

One line alone cannot say two things the operator needs:

- `RuntimeError: _C::static_scaled_fp8_quant() expected at most 0 argument(s)` is a bare
  `traceback` by its words, but the traceback above it runs through
  `model_executor/layers/quantization/…` while the launch set `--quantization fp8`: that is
  `unsupported_quantization`, and the fix is to drop the flag. The same holds when the failing
  exception names the method itself (`Cannot find the config file for gptq`).
- After the operator stopped the server (`[shutdown] API server: shutdown triggered`, vLLM ≥ 0.2x
  on SIGINT/SIGTERM), the API server's `AsyncLLM output_handler failed` / `EngineDeadError` are the
  stop's own echo, not a failure of the run.

`FailureContext` watches the cheap signs (a frame line, a traceback header, the shutdown line) and
answers for the accumulator (`facts.LogFacts`). RULES.md, "errors", states both rules.
"""

from __future__ import annotations

import re

from tui.server.logfacts.diagnosis import ENGINE_DEAD, TRACEBACK, WORKER_DIED

_QUANT_FRAME = re.compile(r'\s+File "[^"]*[/\\]quantization[/\\]')
_SHUTDOWN = "shutdown triggered"
_STOP_ECHOES = frozenset((ENGINE_DEAD, WORKER_DIED, TRACEBACK))
_SEEN_FRAMES_LIMIT = 400
"""A quantization frame counts for an exception line at most this many lines below it."""


class FailureContext:
    """Traceback frames and the shutdown seen so far; `reclassify` applies the two rules."""

    __slots__ = ("_quant_frame_at", "_stopping", "_traceback_at")

    def __init__(self) -> None:
        self._quant_frame_at = 0
        self._traceback_at = 0
        self._stopping = False

    def note(self, message: str, at: int) -> None:
        """Look at one failure-capable message (an ERROR record's or a raw line's) before it is classified."""
        if not message:
            return
        first = message[0]
        if first == " " or first == "\t":
            if "quantization" in message and _QUANT_FRAME.match(message):
                self._quant_frame_at = at
        elif first == "T" and message.startswith("Traceback (most recent call last)"):
            self._traceback_at = at

    def note_record(self, message: str) -> None:
        """Any record: `[shutdown] API server: shutdown triggered` starts the operator's stop."""
        if _SHUTDOWN in message and message.startswith("[shutdown]"):
            self._stopping = True

    @property
    def stopping(self) -> bool:
        return self._stopping

    def is_stop_echo(self, kind: str) -> bool:
        """A failure that only echoes the operator's stop (after the shutdown line)."""
        return self._stopping and kind in _STOP_ECHOES

    def through_quantization(self, message: str, at: int, method: str | None) -> bool:
        """`message` (an exception line at `at`) failed in quantization code while `--quantization` was set."""
        if not method:
            return False
        if self._quant_frame_at > self._traceback_at and at - self._quant_frame_at <= _SEEN_FRAMES_LIMIT:
            return True
        named = rf"(?:^|[\s'\"`(]){re.escape(method)}(?:$|[\s'\"`).,:])"
        return re.search(named, message) is not None
