"""Every playground exchange, on disk as it happens: `chat.jsonl` in the run directory.

One JSON object per line, appended whole and fsynced (`tui.atomic.append_line`: a
record that cannot be written whole is taken back off, the file is 0600): a request
line when a prompt is sent, a reply line when the answer ends (completed,
cancelled or failed — a partial answer is kept, marked partial). Lines of one
conversation share its id, so a conversation can be listed and reopened later
from any run directory, and a crash loses at most the reply in flight.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tui.failures import os_error_reason
from tui.files.atomic import append_json_line

JOURNAL = "chat.jsonl"
Mode = Literal["chat", "completion"]


def new_conversation_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


@dataclass(frozen=True)
class Turn:
    """One prompt and what came back (reply None while it is still streaming or was never recorded)."""

    prompt: str
    reply: str | None = None
    reasoning: str = ""
    finish_reason: str | None = None
    error: str | None = None
    partial: bool = False
    stats: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Conversation:
    """A conversation as read back from a journal."""

    id: str
    mode: Mode
    model: str | None
    system: str | None
    turns: tuple[Turn, ...]
    path: Path
    started: float | None

    @property
    def title(self) -> str:
        first = self.turns[0].prompt if self.turns else ""
        return first.splitlines()[0][:80] if first else "(empty)"

    def messages(self) -> list[dict[str, str]]:
        """The chat messages to continue this conversation with (only turns that got a reply)."""
        result = [{"role": "system", "content": self.system}] if self.system else []
        for turn in self.turns:
            if turn.reply is None:
                continue
            result.append({"role": "user", "content": turn.prompt})
            result.append({"role": "assistant", "content": turn.reply})
        return result


class ChatJournal:
    """Appends the records of one run directory's `chat.jsonl`.

    `request` and `reply` never raise for the disk: they return None when the
    record is on disk, else the sentence to show (the chat goes on without it).
    Without a run folder (`None`: it could not be made, which the caller has said
    once) nothing is written and nothing more is said.
    """

    def __init__(self, run_dir: Path | None) -> None:
        self.path = run_dir / JOURNAL if run_dir is not None else None

    def request(self, conversation: str, mode: Mode, model: str, url: str, body: Mapping[str, Any],
                prompt: str, system: str | None) -> str | None:
        return self._append("request", {
            "type": "request", "conversation": conversation, "at": time.time(), "mode": mode, "model": model,
            "url": url, "prompt": prompt, "system": system, "body": dict(body),
        })

    def reply(self, conversation: str, text: str, reasoning: str, finish_reason: str | None, error: str | None,
              partial: bool, stats: Mapping[str, Any]) -> str | None:
        return self._append("reply", {
            "type": "reply", "conversation": conversation, "at": time.time(), "text": text,
            "reasoning": reasoning, "finish_reason": finish_reason, "error": error, "partial": partial,
            "stats": dict(stats),
        })

    def _append(self, what: str, record: Mapping[str, Any]) -> str | None:
        if self.path is None:
            return None
        try:
            append_json_line(self.path, record)
        except OSError as error:
            return f"The {what} was not saved to {self.path}: {os_error_reason(error)}."
        return None


def read_conversations(paths: Iterable[Path]) -> list[Conversation]:
    """Every conversation in the given journals, newest first. Unreadable lines are skipped."""
    found: dict[tuple[Path, str], dict[str, Any]] = {}
    for path in paths:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line cut by a crash
            if not isinstance(record, dict) or "conversation" not in record:
                continue
            key = (path, str(record["conversation"]))
            entry = found.setdefault(key, {"turns": [], "mode": record.get("mode", "chat"),
                                           "model": record.get("model"), "system": record.get("system"),
                                           "started": record.get("at")})
            if record.get("type") == "request":
                entry["turns"].append(Turn(prompt=str(record.get("prompt", ""))))
            elif record.get("type") == "reply" and entry["turns"]:
                last: Turn = entry["turns"][-1]
                entry["turns"][-1] = Turn(
                    prompt=last.prompt, reply=str(record.get("text", "")), reasoning=str(record.get("reasoning", "")),
                    finish_reason=record.get("finish_reason"), error=record.get("error"),
                    partial=bool(record.get("partial")), stats=record.get("stats") or {},
                )
    conversations = [
        Conversation(id=key[1], mode=entry["mode"], model=entry["model"], system=entry["system"],
                     turns=tuple(entry["turns"]), path=key[0], started=entry["started"])
        for key, entry in found.items()
    ]
    conversations.sort(key=lambda c: c.started or 0.0, reverse=True)
    return conversations


def journals_under(runs_root: Path, profile_dir: str | None = None) -> list[Path]:
    """The `chat.jsonl` files of every run (of one profile's runs, when named)."""
    base = runs_root / profile_dir if profile_dir else runs_root
    if not base.is_dir():
        return []
    return sorted(base.glob(f"**/{JOURNAL}"))
