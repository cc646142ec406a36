"""One request's outcome and timings, as the load generator measured it, and its line in `requests.jsonl`.

The field meanings are vLLM's (`RequestFuncOutput` in `vllm/benchmarks/lib/endpoint_request_func.py`),
kept in seconds like vLLM's so the metric code reads the same; `tui.api.timing` holds the same
definitions for the playground. Every record is kept on disk, so any figure of a run can be
recomputed later from `requests.jsonl` (`read_records`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tui.files.atomic import append_line


@dataclass
class RequestRecord:
    """One request: when it was sent, when its chunks came, how many tokens, or why it failed.

    - `start`: `perf_counter()` just before the request was handed to the connection, relative to
      the run's start (seconds). Time spent waiting for a concurrency slot is `queue_time`, not in here.
    - `ttft`: start → the first SSE message with a non-empty `choices` list (even if its text is "").
    - `itl`: gaps between consecutive choice-bearing messages (per chunk, not per token).
    - `latency`: start → the last choice-bearing message (the usage-only chunk and `[DONE]` excluded).
    - `output_tokens`: `usage.completion_tokens` (`output_tokens_source` "usage"); when the server sent
      no usage, the number of choice chunks ("chunks", flagged as estimated in the result).
    - `prompt_len`: `usage.prompt_tokens` when given, else the dataset's own count.
    - `success`: HTTP 200, at least one choice chunk, and the stream ended cleanly.
    """

    index: int
    prompt_len: int | None = None
    expected_output_len: int | None = None
    start: float = 0.0
    queue_time: float = 0.0
    ttft: float | None = None
    itl: list[float] = field(default_factory=list)
    latency: float | None = None
    output_tokens: int | None = None
    output_tokens_source: str | None = None
    success: bool = False
    status: int | None = None
    reason: str | None = None
    """A short grouping key for failures (`HTTP 500`, `connection refused`, `disconnected mid-stream`, …)."""
    error: str | None = None
    """The whole sentence for this failure."""
    warmup: bool = False

    @property
    def tpot(self) -> float | None:
        """vLLM's per-request TPOT: (latency − ttft) / (output_tokens − 1), defined only above one token."""
        if self.ttft is None or self.latency is None or self.output_tokens is None or self.output_tokens <= 1:
            return None
        return (self.latency - self.ttft) / (self.output_tokens - 1)

    def to_json(self) -> dict[str, Any]:
        """The record as plain JSON values."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RequestRecord:
        known = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in data.items() if key in known})


class RecordsFile:
    """Appends records to `requests.jsonl` in batches, written and fsynced off the event loop.

    The load generator can finish thousands of requests a second; a write and fsync each would make
    the disk the bottleneck. Batches go out with each progress tick, so a crash loses at most a tick.
    The write and its fsync run in one writer thread, in order: on a busy disk an fsync takes tens of
    milliseconds, and done on the event loop it held every stream's chunks back meanwhile (they then
    arrived in one read, as if the server had sent the whole reply at once). A failed write is raised
    by the next `flush_soon` or `flush`.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pending: list[str] = []
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("", encoding="utf-8")
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="requests-jsonl")
        self._writes: list[Future[None]] = []

    def add(self, records: Iterable[RequestRecord]) -> None:
        self._pending.extend(json.dumps(record.to_json(), separators=(",", ":")) for record in records)

    def flush_soon(self) -> None:
        """Hand the pending records to the writer thread; raise a failure of an earlier write."""
        done = [write for write in self._writes if write.done()]
        for write in done:
            self._writes.remove(write)
            write.result()
        if self._pending:
            batch = "\n".join(self._pending)
            self._pending.clear()
            self._writes.append(self._writer.submit(append_line, self.path, batch))

    def flush(self) -> None:
        """Write everything added so far and wait until it is on disk."""
        self.flush_soon()
        writes, self._writes = self._writes, []
        for write in writes:
            write.result()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._writer.shutdown(wait=True)


def read_records(path: Path) -> Iterator[RequestRecord]:
    """The records of a `requests.jsonl`; a last line cut by a crash is skipped."""
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if isinstance(data, dict):
                yield RequestRecord.from_json(data)
