"""Latency figures of one request, from monotonic timestamps: shared by the playground, `ask` and the benchmark.

Every number here has one definition, written down, because LLM tools disagree
(see the stage anchors: vLLM, llmperf, genai-perf and evalscope each mean
something else by TTFT or ITL). Ours, for one streamed request:

- start: just before the request is handed to the connection (vLLM's
  `perf_counter()` before `session.post`), so connection setup counts.
- `ttft_ms`: start → the first chunk that carries a token, answer or thinking
  (non-empty `content`, `reasoning`/`reasoning_content` or completion `text`).
  vLLM's benchmark counts the first chunk with any choice, even the role-only
  `{"role": "assistant", "content": ""}` one; that figure is `first_chunk_ms`.
- `e2e_ms`: start → the last chunk that carries a choice (a closing chunk with
  only `finish_reason` counts); the trailing usage-only chunk and `[DONE]` do
  not, exactly as vLLM's E2EL.
- `gaps_ms`: the gaps between consecutive choice-bearing chunks after the first
  token, per chunk and not per token (vLLM's ITL list); they sum to
  `e2e_ms - ttft_ms`.
- `output_tokens`: `usage.completion_tokens` (thinking included, as vLLM counts
  it). Only when the server gives no usage, the number of token-bearing chunks,
  flagged `output_tokens_estimated` (one chunk is usually, not always, one token).
- `tokens_per_s`: the decode rate, `(output_tokens - 1) / (e2e - ttft)`, i.e.
  1000 / vLLM's per-request TPOT; the first token is prefill's, so it is left
  out. It is not vLLM's `output_throughput` (all tokens over the run's
  duration). None when it cannot be computed (fewer than two tokens, or no
  TTFT, as for a reply that was not streamed).

A reply that was not streamed has only `e2e_ms` (start → the whole body read).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Timings:
    """The figures of one request; a figure that could not be measured is None, never 0."""

    ttft_ms: float | None = None
    e2e_ms: float | None = None
    gaps_ms: tuple[float, ...] = ()
    output_tokens: int | None = None
    output_tokens_estimated: bool = False
    tokens_per_s: float | None = None
    first_chunk_ms: float | None = None
    chunks: int = 0
    streamed: bool = False

    @property
    def tpot_ms(self) -> float | None:
        """vLLM's time per output token for this request: (e2e - ttft) / (output_tokens - 1)."""
        if self.ttft_ms is None or self.e2e_ms is None or self.output_tokens is None or self.output_tokens < 2:
            return None
        return (self.e2e_ms - self.ttft_ms) / (self.output_tokens - 1)

    def to_json(self) -> dict[str, Any]:
        """The figures as plain JSON values (rounded to the microsecond), for `chat.jsonl` and `--json`."""
        return {
            "ttft_ms": _round(self.ttft_ms),
            "e2e_ms": _round(self.e2e_ms),
            "first_chunk_ms": _round(self.first_chunk_ms),
            "tpot_ms": _round(self.tpot_ms),
            "tokens_per_s": _round(self.tokens_per_s),
            "output_tokens": self.output_tokens,
            "output_tokens_estimated": self.output_tokens_estimated,
            "chunks": self.chunks,
            "streamed": self.streamed,
            "gaps_ms": [round(gap, 3) for gap in self.gaps_ms],
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def decode_rate(output_tokens: int | None, ttft_ms: float | None, e2e_ms: float | None) -> float | None:
    """Tokens per second after the first: (output_tokens - 1) / (e2e - ttft); None when undefined."""
    if output_tokens is None or output_tokens < 2 or ttft_ms is None or e2e_ms is None:
        return None
    decode_ms = e2e_ms - ttft_ms
    if decode_ms <= 0:
        return None
    return (output_tokens - 1) * 1000.0 / decode_ms


@dataclass
class StreamTimer:
    """Timestamps one request as its chunks arrive; `finish` turns them into `Timings`.

    The client calls `start` just before sending, `chunk` for every parsed
    stream event (all events of one network read share that read's timestamp,
    as in vLLM's benchmark), then `finish` with the server's token count. Pass
    `now` to any call to drive it from recorded times (tests, replays).
    """

    clock: Callable[[], float] = time.monotonic
    started: float | None = None
    first_chunk: float | None = None
    first_token: float | None = None
    last_choice: float | None = None
    token_chunks: int = 0
    chunks: int = 0
    gaps: list[float] = field(default_factory=list)

    def start(self, now: float | None = None) -> float:
        """Mark the request as sent; returns the timestamp used."""
        self.started = self.clock() if now is None else now
        return self.started

    def chunk(self, *, has_choice: bool, has_token: bool, now: float | None = None) -> None:
        """Record one stream event: `has_choice` when it carries a choice, `has_token` when text or thinking."""
        if not has_choice:
            return
        stamp = self.clock() if now is None else now
        self.chunks += 1
        if self.first_chunk is None:
            self.first_chunk = stamp
        if self.first_token is not None and self.last_choice is not None:
            self.gaps.append((stamp - self.last_choice) * 1000.0)
        if has_token:
            self.token_chunks += 1
            if self.first_token is None:
                self.first_token = stamp
        self.last_choice = stamp

    def finish(self, completion_tokens: int | None) -> Timings:
        """The streamed request's figures; `completion_tokens` from `usage`, or None when the server sent none.

        No end time is taken here: a stream ends at its last choice chunk, not when we stopped reading.
        """
        started = self.started
        if started is None:
            return Timings(streamed=True)
        ttft = None if self.first_token is None else (self.first_token - started) * 1000.0
        e2e = None if self.last_choice is None else (self.last_choice - started) * 1000.0
        estimated = completion_tokens is None and self.token_chunks > 0
        tokens = completion_tokens if completion_tokens is not None else (self.token_chunks or None)
        return Timings(
            ttft_ms=ttft,
            e2e_ms=e2e,
            gaps_ms=tuple(self.gaps),
            output_tokens=tokens,
            output_tokens_estimated=estimated,
            tokens_per_s=decode_rate(tokens, ttft, e2e),
            first_chunk_ms=None if self.first_chunk is None else (self.first_chunk - started) * 1000.0,
            chunks=self.chunks,
            streamed=True,
        )

    def finish_whole(self, completion_tokens: int | None, *, now: float | None = None) -> Timings:
        """A reply that was not streamed: only the end-to-end time and the server's token count."""
        started = self.started
        end = self.clock() if now is None else now
        return Timings(
            e2e_ms=None if started is None else (end - started) * 1000.0,
            output_tokens=completion_tokens,
            streamed=False,
        )
