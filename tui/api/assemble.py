"""OpenAI-style chunks and bodies into `StreamDelta`s and a `Reply`: pure, no I/O, testable on bytes.

`ReplyAssembler` reads the events of one streamed reply as `SSEDecoder` yields
them and keeps the running state: answer and thinking text, finish reason,
usage (from a usage-only last chunk or from every chunk), log-probabilities,
an error object the server sent inside the stream, `[DONE]`. It decides at the
end whether the reply finished: `[DONE]`, or a finish reason (some servers,
`transformers serve` among them, never send `[DONE]`). Anything else means the
stream was cut, and the reply is `partial`.

Only choice 0 is followed: the playground and `ask` send `n = 1`.
`parse_body` does the same for a reply that was not streamed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tui.api.errors import message_from_json
from tui.api.reply import Reply, StreamDelta, TokenLogprob, Usage, parse_logprobs
from tui.api.sse import SSEDecoder, SSEEvent
from tui.api.think import ThinkSplitter, split_think
from tui.api.timing import StreamTimer, Timings

DONE = "[DONE]"


def _reasoning_of(part: Mapping[str, Any]) -> str:
    """Thinking text of a delta or message: `reasoning` (vLLM >= 0.15) else `reasoning_content`; never both.

    vLLM in between sends the same text under both names, so adding them would double it.
    """
    value = part.get("reasoning")
    if isinstance(value, str):
        return value
    value = part.get("reasoning_content")
    return value if isinstance(value, str) else ""


def _choice_zero(choices: object) -> Mapping[str, Any] | None:
    if not isinstance(choices, list):
        return None
    for choice in choices:
        if isinstance(choice, Mapping) and choice.get("index", 0) == 0:
            return choice
    return None


def _text_of(choice: Mapping[str, Any]) -> str:
    """Answer text of a choice, chat (`delta.content`, `message.content`) or completion (`text`)."""
    text = choice.get("text")
    if isinstance(text, str):
        return text
    for key in ("delta", "message"):
        part = choice.get(key)
        if isinstance(part, Mapping):
            content = part.get("content")
            if isinstance(content, str):
                return content
    return ""


def _thinking_of(choice: Mapping[str, Any]) -> str:
    for key in ("delta", "message"):
        part = choice.get(key)
        if isinstance(part, Mapping):
            return _reasoning_of(part)
    return ""


class ReplyAssembler:
    """The state of one streamed reply, fed event by event."""

    def __init__(self, *, split_think_tags: bool = True, timer: StreamTimer | None = None) -> None:
        self.timer = timer if timer is not None else StreamTimer()
        self._splitter = ThinkSplitter() if split_think_tags else None
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._logprobs: list[TokenLogprob] = []
        self._any_logprobs = False
        self._orphan_at: int | None = None
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.model: str | None = None
        self.done = False
        self.error: str | None = None
        """The server's own message when it sent an error object inside the stream."""
        self.events = 0
        self.skipped = 0
        """Events that were not JSON objects: counted and passed over, so one bad event loses nothing else."""

    @property
    def text(self) -> str:
        return "".join(self._text)

    @property
    def reasoning(self) -> str:
        return "".join(self._reasoning)

    @property
    def finished(self) -> bool:
        """The server said the reply is over: `[DONE]`, a finish reason, or an error it reported."""
        return self.done or self.finish_reason is not None or self.error is not None

    def feed(self, event: SSEEvent, now: float | None = None) -> StreamDelta | None:
        """The delta this event adds, or None (role-only chunks, usage, `[DONE]`, keep-alives)."""
        self.events += 1
        data = event.data.strip()
        if event.event == "error":
            self.error = self._error_text(data)
            return None
        if data == DONE:
            self.done = True
            return None
        try:
            chunk = json.loads(data)
        except ValueError:
            self.skipped += 1
            return None
        if not isinstance(chunk, Mapping):
            self.skipped += 1
            return None
        if chunk.get("error") is not None or chunk.get("object") == "error":
            self.error = message_from_json(chunk) or data
            return None
        usage = Usage.from_json(chunk.get("usage"))
        if usage is not None:
            self.usage = usage
        model = chunk.get("model")
        if isinstance(model, str) and model:
            self.model = model
        choice = _choice_zero(chunk.get("choices"))
        if choice is None:
            return None
        raw_text = _text_of(choice)
        raw_thinking = _thinking_of(choice)
        self.timer.chunk(has_choice=True, has_token=bool(raw_text or raw_thinking), now=now)
        text, thinking = raw_text, raw_thinking
        if self._splitter is not None and raw_text:
            orphan_before = self._splitter.orphan_close
            parts = self._splitter.feed(raw_text)
            text, thinking = parts.content, raw_thinking + parts.reasoning
            if self._splitter.orphan_close and not orphan_before:
                self._orphan_at = len(self._text)
        finish = choice.get("finish_reason")
        finish_reason = finish if isinstance(finish, str) and finish else None
        if finish_reason is not None:
            self.finish_reason = finish_reason
        logprobs = parse_logprobs(choice.get("logprobs"))
        if logprobs is not None:
            self._any_logprobs = True
            self._logprobs.extend(logprobs)
        if finish_reason is not None and self._splitter is not None:
            held = self._splitter.flush()
            text += held.content
            thinking += held.reasoning
        return self._delta(text, thinking, finish_reason, logprobs)

    def _delta(
        self, text: str, thinking: str, finish_reason: str | None, logprobs: tuple[TokenLogprob, ...] | None
    ) -> StreamDelta | None:
        if text:
            self._text.append(text)
        if thinking:
            self._reasoning.append(thinking)
        if not text and not thinking and finish_reason is None and logprobs is None:
            return None
        return StreamDelta(text=text, reasoning=thinking, finish_reason=finish_reason, logprobs=logprobs)

    @staticmethod
    def _error_text(data: str) -> str:
        try:
            parsed = json.loads(data)
        except ValueError:
            return data or "the server sent an error event with no message"
        return message_from_json(parsed) or data

    def end(self) -> StreamDelta | None:
        """The stream's body ended: what a held partial `<think` turned out to be, if anything."""
        if self._splitter is None:
            return None
        held = self._splitter.flush()
        return self._delta(held.content, held.reasoning, None, None)

    def reply(self, *, error: str | None = None, status: int | None = 200) -> Reply:
        """The reply so far; `error` (ours) wins over the server's in-stream one; unfinished means partial."""
        text, reasoning = self.text, self.reasoning
        if self._orphan_at is not None:
            # A `</think>` with no opening tag: what streamed as answer before it was thinking.
            reasoning = "".join(self._text[: self._orphan_at]) + reasoning
            text = "".join(self._text[self._orphan_at :])
        if self.error is not None and error is None:
            error = f"the server reported an error mid-stream: {self.error}"
        partial = error is not None or not self.finished
        completion = self.usage.completion_tokens if self.usage is not None else None
        timings = self.timer.finish(completion)
        return Reply(
            text=text,
            reasoning=reasoning,
            finish_reason=self.finish_reason,
            usage=self.usage,
            timings=timings,
            error=error,
            partial=partial,
            status=status,
            model=self.model,
            logprobs=tuple(self._logprobs) if self._any_logprobs else None,
        )


@dataclass(frozen=True)
class StreamOutcome:
    """A whole stream read from bytes at once: the deltas in order and the reply they make."""

    deltas: tuple[StreamDelta, ...]
    reply: Reply
    truncated: bool
    comments: int


def read_stream(chunks: Iterable[bytes], *, split_think_tags: bool = True) -> StreamOutcome:
    """Decode a whole recorded body (its network reads in order) as the client would, minus the network.

    A body that stops mid-line, or ends without `[DONE]` or a finish reason,
    gives a partial reply whose error says the stream was cut.
    """
    decoder = SSEDecoder()
    assembler = ReplyAssembler(split_think_tags=split_think_tags)
    assembler.timer.start(0.0)
    deltas: list[StreamDelta] = []
    step = 0.0
    for chunk in chunks:
        step += 1.0
        for event in decoder.feed(chunk):
            delta = assembler.feed(event, now=step)
            if delta is not None:
                deltas.append(delta)
    for event in decoder.close():
        delta = assembler.feed(event, now=step)
        if delta is not None:
            deltas.append(delta)
    tail = assembler.end()
    if tail is not None:
        deltas.append(tail)
    error = None
    if not assembler.finished:
        error = cut_sentence(assembler, truncated=decoder.truncated)
    return StreamOutcome(tuple(deltas), assembler.reply(error=error), decoder.truncated, decoder.comments)


def cut_sentence(assembler: ReplyAssembler, *, truncated: bool, detail: str = "", where: str = "the server") -> str:
    """Why a stream that ended without `[DONE]` or a finish reason is incomplete, and what was kept."""
    kept = _kept(assembler)
    how = "in the middle of an event" if truncated else "before the reply finished"
    extra = f" ({detail})" if detail else ""
    return f"{where} closed the stream {how}{extra}; it may have crashed, check its log; {kept}"


def _kept(assembler: ReplyAssembler) -> str:
    size = len(assembler.text) + len(assembler.reasoning)
    if size == 0:
        return "no text had arrived"
    return f"the {size} characters that arrived are kept"


def parse_body(data: object, *, split_think_tags: bool = True) -> tuple[Reply, str | None]:
    """A whole (not streamed) chat or completion body as a `Reply` without timings, and an error if the body
    is not a reply (an error object, or no choices)."""
    if not isinstance(data, Mapping):
        return Reply(), "the server answered, but not with a JSON object"
    if data.get("error") is not None or data.get("object") == "error":
        return Reply(), message_from_json(data) or "the server answered with an error object"
    choice = _choice_zero(data.get("choices"))
    usage = Usage.from_json(data.get("usage"))
    model = data.get("model") if isinstance(data.get("model"), str) else None
    if choice is None:
        return Reply(usage=usage, model=model), "the server's answer has no choices"
    text = _text_of(choice)
    reasoning = _thinking_of(choice)
    if split_think_tags and text:
        parts, _ = split_think(text)
        text, reasoning = parts.content, reasoning + parts.reasoning
    finish = choice.get("finish_reason")
    return (
        Reply(
            text=text,
            reasoning=reasoning,
            finish_reason=finish if isinstance(finish, str) and finish else None,
            usage=usage,
            timings=Timings(),
            model=model,
            logprobs=parse_logprobs(choice.get("logprobs")),
        ),
        None,
    )
