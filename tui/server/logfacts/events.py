"""What a log line changed, as typed values a UI can react to without re-reading the facts.

The console's log pane tails a live server: after each chunk it wants to know
"the weights are 75 % loaded", "graph capture began", "the server is ready",
"an error with this diagnosis appeared", not a fresh copy of every fact. Each
`LogFacts.feed` returns these events in line order. They are frozen values, safe
to hand from a worker thread to the UI as messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from tui.server.logfacts.diagnosis import Diagnosis


@dataclass(frozen=True, slots=True)
class Stats:
    """The last periodic `Avg prompt throughput …` line (contract key `stats`)."""

    prompt_tps: float
    gen_tps: float
    running: int
    waiting: int
    kv_usage_pct: float
    prefix_hit_pct: float | None

    def to_json(self) -> dict[str, object]:
        return {
            "prompt_tps": self.prompt_tps, "gen_tps": self.gen_tps, "running": self.running,
            "waiting": self.waiting, "kv_usage_pct": self.kv_usage_pct, "prefix_hit_pct": self.prefix_hit_pct,
        }


@dataclass(frozen=True, slots=True)
class FactChanged:
    """A contract field (`max_model_len`, `compilation`, …) got a value or a better one."""

    name: str
    value: object


@dataclass(frozen=True, slots=True)
class PhaseEntered:
    """A start-up phase began at `at_line`; `elapsed_s` counts from the log's first timestamp."""

    phase: str
    at_line: int
    elapsed_s: float | None


@dataclass(frozen=True, slots=True)
class ErrorFound:
    """A new (kind, code) of failure, with what to try."""

    diagnosis: Diagnosis


@dataclass(frozen=True, slots=True)
class Progress:
    """A tqdm frame: `weights` (safetensors shards) or `graph_capture` at `pct` percent."""

    kind: str
    pct: int
    done: int | None = None
    total: int | None = None


@dataclass(frozen=True, slots=True)
class Ready:
    """uvicorn said `Application startup complete.`: the API answers."""

    at_line: int


@dataclass(frozen=True, slots=True)
class StatsUpdated:
    """A periodic stats line arrived."""

    stats: Stats


@dataclass(frozen=True, slots=True)
class RequestLogged:
    """One uvicorn access line: `"POST /v1/chat/completions HTTP/1.1" 200 OK`."""

    status: int
    method: str
    path: str


LogEvent: TypeAlias = FactChanged | PhaseEntered | ErrorFound | Progress | Ready | StatsUpdated | RequestLogged
"""Everything `LogFacts.feed` can report."""
