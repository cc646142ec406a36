"""What the server sends back, as frozen values: models, stream deltas, token log-probabilities, the final reply.

The client never hands raw JSON to the UI or the CLI: OpenAI, vLLM (old and new)
and `transformers serve` spell the same things differently (`reasoning` or
`reasoning_content`, chat or completion log-probabilities, usage in a final
chunk or in every chunk), and these types are the one shape they all become.
A failed request is still a `Reply`, with `error` saying what happened and the
text that did arrive kept, because "nothing is lost" holds for a crash too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tui.api.timing import Timings


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class ModelInfo:
    """One entry of `/v1/models`; vLLM adds `max_model_len` and `root`, others may not."""

    id: str
    owned_by: str | None = None
    root: str | None = None
    max_model_len: int | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelInfo | None:
        """The entry, or None when it has no string `id` (a server bug we skip rather than crash on)."""
        model_id = data.get("id")
        if not isinstance(model_id, str) or not model_id:
            return None
        owned_by = data.get("owned_by")
        root = data.get("root")
        return cls(
            id=model_id,
            owned_by=owned_by if isinstance(owned_by, str) else None,
            root=root if isinstance(root, str) else None,
            max_model_len=_int_or_none(data.get("max_model_len")),
        )


@dataclass(frozen=True)
class Usage:
    """Token counts the server reported; a count it did not report is None."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    reasoning_tokens: int | None = None

    @classmethod
    def from_json(cls, data: object) -> Usage | None:
        """The usage object of a reply or chunk, or None when there is none."""
        if not isinstance(data, Mapping):
            return None
        details = data.get("completion_tokens_details")
        reasoning = details.get("reasoning_tokens") if isinstance(details, Mapping) else None
        return cls(
            prompt_tokens=_int_or_none(data.get("prompt_tokens")),
            completion_tokens=_int_or_none(data.get("completion_tokens")),
            total_tokens=_int_or_none(data.get("total_tokens")),
            reasoning_tokens=_int_or_none(reasoning),
        )

    def to_json(self) -> dict[str, int | None]:
        data = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }
        if self.reasoning_tokens is not None:
            data["reasoning_tokens"] = self.reasoning_tokens
        return data


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token, its log-probability, and the top alternatives the server listed (best first)."""

    token: str
    logprob: float | None
    top: tuple[tuple[str, float], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"token": self.token, "logprob": self.logprob, "top": [[t, lp] for t, lp in self.top]}


def _float_or_none(value: object) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def parse_logprobs(data: object) -> tuple[TokenLogprob, ...] | None:
    """Chat (`{"content": [{token, logprob, top_logprobs}]}`) or completion (`tokens`, `token_logprobs`,
    `top_logprobs`) log-probabilities as one list of tokens; None when absent or unreadable."""
    if not isinstance(data, Mapping):
        return None
    content = data.get("content")
    if isinstance(content, list):
        tokens: list[TokenLogprob] = []
        for item in content:
            if not isinstance(item, Mapping) or not isinstance(item.get("token"), str):
                continue
            top: list[tuple[str, float]] = []
            for alt in item.get("top_logprobs") or ():
                if isinstance(alt, Mapping) and isinstance(alt.get("token"), str):
                    value = _float_or_none(alt.get("logprob"))
                    if value is not None:
                        top.append((alt["token"], value))
            tokens.append(TokenLogprob(item["token"], _float_or_none(item.get("logprob")), tuple(top)))
        return tuple(tokens)
    names = data.get("tokens")
    if isinstance(names, list):
        values = data.get("token_logprobs")
        tops = data.get("top_logprobs")
        result: list[TokenLogprob] = []
        for position, name in enumerate(names):
            if not isinstance(name, str):
                continue
            value = values[position] if isinstance(values, list) and position < len(values) else None
            alternatives = tops[position] if isinstance(tops, list) and position < len(tops) else None
            top_pairs: tuple[tuple[str, float], ...] = ()
            if isinstance(alternatives, Mapping):
                pairs = [(str(t), lp) for t, lp in alternatives.items() if _float_or_none(lp) is not None]
                top_pairs = tuple(sorted(((t, float(lp)) for t, lp in pairs), key=lambda pair: -pair[1]))
            result.append(TokenLogprob(name, _float_or_none(value), top_pairs))
        return tuple(result)
    return None


@dataclass(frozen=True)
class StreamDelta:
    """What one stream event added to the reply.

    `text` is answer text and `reasoning` thinking text (from `reasoning`,
    `reasoning_content`, or an inline `<think>` block moved out of the answer).
    A Qwen3-2507 style stream that only closes `</think>` cannot be told apart
    until the close arrives: its earlier deltas come as `text`, and the final
    `Reply` moves them into `reasoning`.
    """

    text: str = ""
    reasoning: str = ""
    finish_reason: str | None = None
    logprobs: tuple[TokenLogprob, ...] | None = None


@dataclass(frozen=True)
class Reply:
    """The whole answer to one request, complete or not.

    `error` is one sentence saying what went wrong (the server's own message
    included) or None; `partial` is True when a reply had started and did not
    finish (the connection dropped, the server reported an error mid-stream, a
    timeout, a cancel): `text` and `reasoning` then hold what had arrived.
    `status` is the HTTP status, None when no response came at all.
    """

    text: str = ""
    reasoning: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None
    timings: Timings = field(default_factory=Timings)
    error: str | None = None
    partial: bool = False
    status: int | None = None
    model: str | None = None
    logprobs: tuple[TokenLogprob, ...] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready record of the reply, for `chat.jsonl` and `ask --json`."""
        return {
            "text": self.text,
            "reasoning": self.reasoning,
            "finish_reason": self.finish_reason,
            "usage": None if self.usage is None else self.usage.to_json(),
            "timings": self.timings.to_json(),
            "error": self.error,
            "partial": self.partial,
            "status": self.status,
            "model": self.model,
            "logprobs": None if self.logprobs is None else [item.to_json() for item in self.logprobs],
        }
