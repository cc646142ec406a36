"""The per-problem evidence of an accuracy run: `items.jsonl`, one JSON object a problem.

Each line holds the problem's `id` (its 0-based index in the test split), the question, the reply
(the answer text; thinking apart under `reasoning`), what the grader `extracted` and by which rule,
the `reference`, whether it is `correct` (null for a request that failed, with its `error`), the
finish reason, the output tokens and the latency. During the run lines are appended as problems
finish (flushed with each progress event, so a crash keeps what was done); at the end the file is
replaced, atomically, by the same lines in problem order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from tui.files.atomic import atomic_write_text

MAX_ITEMS_BYTES = 256 * 1024 * 1024
ITEMS_FILE = "items.jsonl"


def _line(item: Mapping[str, Any]) -> str:
    return json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n"


class ItemsFile:
    """Appends items as they come and rewrites them in order at the end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle: IO[str] | None = path.open("w", encoding="utf-8")
        self._items: list[Mapping[str, Any]] = []

    def add(self, item: Mapping[str, Any]) -> None:
        self._items.append(item)
        if self._handle is not None:
            self._handle.write(_line(item))

    def flush(self) -> None:
        if self._handle is not None:
            self._handle.flush()

    def finish(self) -> None:
        """Close the running file and replace it by the items in problem order."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        ordered = sorted(self._items, key=lambda item: int(item.get("id", 0)))
        atomic_write_text(self.path, "".join(_line(item) for item in ordered))


class ItemsError(Exception):
    """An items file that cannot be read: the sentence names it."""


def read_items(path: Path) -> Iterator[dict[str, Any]]:
    """The items of `path`, bounded in size; a line that is not an item object (a crash's last) is skipped."""
    try:
        size = path.stat().st_size
        if size > MAX_ITEMS_BYTES:
            raise ItemsError(f"{path} holds {size} bytes, more than an accuracy run writes")
        handle = path.open(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ItemsError(f"cannot read {path}: {exc.strerror or exc}") from exc
    with handle:
        for line in handle:
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict) and isinstance(item.get("id"), int):
                yield item
