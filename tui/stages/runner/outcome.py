"""How a stage run ended, as one value and one sentence."""

from __future__ import annotations

import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

StageState = Literal["pending", "running", "succeeded", "failed", "cancelled"]
EndState = Literal["succeeded", "failed", "cancelled"]


@dataclass(frozen=True)
class StageOutcome:
    """How a stage run ended.

    `state` is "succeeded" only for exit 0 with a result; `error` is the one
    sentence to show otherwise; `stderr_tail` the last lines of stderr (the full
    text is in `run_folder/stderr.log`). `result` is kept even when the stage
    failed after reporting one (a precision FAIL exits 1 with its numbers).
    """

    name: str
    state: EndState
    result: Mapping[str, Any] | None
    error: str | None
    run_folder: Path
    seconds: float
    exit_code: int | None
    stderr_tail: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.state == "succeeded"


def exit_sentence(name: str, code: int, tail: Sequence[str]) -> str:
    """One sentence for a non-zero exit, ending with the stage's last words on stderr."""
    if code < 0:
        try:
            how = f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f"was killed by signal {-code}"
    else:
        how = f"exited with code {code}"
    last = next((line.strip() for line in reversed(tail) if line.strip()), "")
    if last:
        return f"stage {name} {how}: {last}"
    return f"stage {name} {how} without a word on stderr"
