"""Every way a request can fail, as one sentence that says what happened and what to try.

The server's own words matter most: vLLM explains a 400 precisely ("This
model's maximum context length is 4096 tokens…"), so the sentence quotes it,
whichever body shape carried it: vLLM before 0.10.1 (`{"object": "error",
"message": …}`), vLLM after and OpenAI (`{"error": {"message": …}}`), FastAPI
and `transformers serve` (`{"detail": "…"}` or a list of validation errors),
a bare `{"error": "Unauthorized"}`, or a plain-text page from a proxy.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Mapping
from typing import Any

MESSAGE_LIMIT = 600
"""Longest server message quoted in a sentence; the rest is cut (the whole body goes to the log)."""


class ApiError(Exception):
    """A request that got no usable answer: `str(error)` is the sentence, `message` the server's own words."""

    def __init__(self, sentence: str, *, status: int | None = None, message: str | None = None) -> None:
        super().__init__(sentence)
        self.sentence = sentence
        self.status = status
        self.message = message


def _clip(text: str, limit: int = MESSAGE_LIMIT) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _validation_errors(items: list[Any]) -> str:
    """FastAPI's 422 list (`[{"loc": [...], "msg": ...}]`) as `body.messages: Field required; …`."""
    parts = []
    for item in items:
        if isinstance(item, Mapping) and isinstance(item.get("msg"), str):
            loc = item.get("loc")
            where = ".".join(str(part) for part in loc) if isinstance(loc, list) else ""
            parts.append(f"{where}: {item['msg']}" if where else item["msg"])
        else:
            parts.append(str(item))
    return "; ".join(parts)


def message_from_json(data: object) -> str | None:
    """The human message inside an error object of any of the known shapes, or None."""
    if isinstance(data, str):
        return data or None
    if not isinstance(data, Mapping):
        return None
    inner = data.get("error")
    if isinstance(inner, Mapping):
        found = message_from_json(inner)
        if found:
            return found
    elif isinstance(inner, str) and inner:
        return inner
    message = data.get("message")
    if isinstance(message, str) and message:
        return message
    detail = data.get("detail")
    if isinstance(detail, str) and detail:
        return detail
    if isinstance(detail, list) and detail:
        return _validation_errors(detail)
    if isinstance(detail, Mapping):
        return message_from_json(detail)
    return None


def server_message(body: bytes | str) -> str:
    """What an error body says, in the server's own words; its first line when it is not JSON."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    found = message_from_json(data)
    if found:
        return _clip(found)
    for line in text.splitlines():
        if line.strip():
            return _clip(line)
    return ""


def http_error_sentence(
    url: str, status: int, reason: str, body: bytes | str, *, api_key_env: str | None, key_present: bool
) -> tuple[str, str]:
    """(sentence, the server's message) for a non-2xx answer, with a hint for the statuses that have one."""
    message = server_message(body)
    head = f"{url} answered {status} {reason}".rstrip()
    sentence = f"{head}: {message}" if message else head
    if status in (401, 403):
        if api_key_env and not key_present:
            sentence += f" (the API key variable ${api_key_env} is not set; export it and try again)"
        elif api_key_env:
            sentence += f" (check the API key in ${api_key_env})"
        else:
            sentence += " (the server wants an API key; give the variable that holds it with --api-key-env)"
    elif status == 404 and "model" not in message.lower():
        sentence += " (is this an OpenAI-compatible server, and is the URL its root?)"
    return sentence, message


def refused(exc: BaseException) -> bool:
    """True when, somewhere down the cause chain, the kernel said "connection refused"."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return True
        if isinstance(current, OSError) and current.errno == errno.ECONNREFUSED:
            return True
        current = current.__cause__ or current.__context__
    return "refused" in str(exc).lower()


def refused_sentence(url: str, profile: str | None = None) -> str:
    """The one sentence for a connection refused: nothing runs there, and how to start it."""
    name = profile or "NAME"
    return (
        f"No server is running at {url} (connection refused); start it with "
        f"`npu-console serve --profile {name}` or press `l` in the console, then try again."
    )


def describe(exc: BaseException) -> str:
    """An exception's text, or its type when it has none (httpx errors often have empty messages)."""
    text = str(exc).strip()
    return text if text else type(exc).__name__
