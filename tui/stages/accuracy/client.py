"""Asking an OpenAI-compatible server for one problem's answer, over aiohttp, bounded and never raising.

The framing is the console's own (`tui.api.sse.SSEDecoder`, `tui.api.assemble.ReplyAssembler` and
`parse_body`): a streamed and a whole reply give the same `Answer`, and thinking text (a
`reasoning` field or an inline `<think>` block) is kept apart from the answer the graders read.
Every failure (refused connection, HTTP error, timeout, a stream cut short, a body that is not a
reply) is an `Answer` whose `error` is one sentence quoting the server; only cancellation propagates.
Each request is bounded in time (`timeout_s`, the whole request) and in size (`MAX_BODY_BYTES`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from tui.api.assemble import ReplyAssembler, cut_sentence, parse_body
from tui.api.errors import refused, server_message
from tui.api.reply import Reply
from tui.api.sse import SSEDecoder, SSEProtocolError
from tui.stages.server_options import server_root

MAX_BODY_BYTES = 8 * 1024 * 1024
META_TIMEOUT_S = 10.0
PATHS = {"chat": "/v1/chat/completions", "completion": "/v1/completions"}


class ServerError(Exception):
    """The server cannot be used at all (nothing answers, no model listed): one sentence."""


@dataclass(frozen=True)
class Answer:
    """One problem's reply: the answer text, the thinking apart, how it finished; `error` when it failed."""

    text: str = ""
    reasoning: str = ""
    finish_reason: str | None = None
    completion_tokens: int | None = None
    error: str | None = None
    status: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _connect_sentence(root: str, exc: BaseException) -> str:
    if refused(exc):
        return f"nothing answers at {root} (connection refused); is the server up?"
    return f"cannot reach {root}: {exc}; check the URL"


async def first_model(session: aiohttp.ClientSession, root: str, headers: Mapping[str, str]) -> str:
    """The id of the first model `/v1/models` lists (raises `ServerError` with the reason there is none)."""
    url = f"{root}/v1/models"
    try:
        async with session.get(url, headers=dict(headers), timeout=aiohttp.ClientTimeout(total=META_TIMEOUT_S)) \
                as response:
            body = await response.content.read(MAX_BODY_BYTES)
            if response.status != 200:
                said = server_message(body)
                raise ServerError(f"{url} answered HTTP {response.status}" + (f": {said}" if said else "")
                                  + "; pass --model NAME, or the API key with --api-key-env VAR")
    except aiohttp.ClientConnectorError as exc:
        raise ServerError(_connect_sentence(root, exc)) from exc
    except asyncio.TimeoutError as exc:
        raise ServerError(f"{url} did not answer within {META_TIMEOUT_S:g} s; the server may be hung") from exc
    except aiohttp.ClientError as exc:
        raise ServerError(f"reading {url} failed ({exc}); is {root} an OpenAI-compatible server?") from exc
    try:
        entries = json.loads(body).get("data")
    except (ValueError, AttributeError):
        entries = None
    ids = [entry.get("id") for entry in entries or [] if isinstance(entry, dict)] if isinstance(entries, list) \
        else []
    names = [name for name in ids if isinstance(name, str) and name]
    if not names:
        raise ServerError(f"{url} lists no model; pass --model NAME")
    return names[0]


def _answer(reply: Reply, error: str | None, status: int | None) -> Answer:
    tokens = reply.usage.completion_tokens if reply.usage is not None else None
    return Answer(reply.text, reply.reasoning, reply.finish_reason, tokens, error, status)


async def _read_stream(response: aiohttp.ClientResponse, split_think: bool) -> Answer:
    decoder = SSEDecoder()
    assembler = ReplyAssembler(split_think_tags=split_think)
    assembler.timer.start()
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            reply = assembler.reply(error="stopped reading")
            return _answer(reply, f"the streamed reply passed {MAX_BODY_BYTES} bytes; stopped reading it",
                           response.status)
        for event in decoder.feed(chunk):
            assembler.feed(event)
    for event in decoder.close():
        assembler.feed(event)
    assembler.end()
    error = None if assembler.finished else cut_sentence(assembler, truncated=decoder.truncated)
    reply = assembler.reply(error=error, status=response.status)
    return _answer(reply, reply.error, response.status)


async def ask(session: aiohttp.ClientSession, url: str, body: Mapping[str, Any], headers: Mapping[str, str],
              timeout_s: float, *, split_think: bool) -> Answer:
    """POST one request and read its reply (streamed when the body says so); never raises but on cancel."""
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    try:
        async with session.post(url, data=payload, headers=dict(headers),
                                timeout=aiohttp.ClientTimeout(total=timeout_s)) as response:
            if response.status != 200:
                said = server_message(await response.content.read(MAX_BODY_BYTES))
                return Answer(error=f"HTTP {response.status}" + (f": {said}" if said else ""),
                              status=response.status)
            if body.get("stream"):
                return await _read_stream(response, split_think)
            raw = await response.content.read(MAX_BODY_BYTES + 1)
            if len(raw) > MAX_BODY_BYTES:
                return Answer(error=f"the reply passed {MAX_BODY_BYTES} bytes; not read", status=response.status)
            try:
                data = json.loads(raw)
            except ValueError:
                return Answer(error=f"the reply is not JSON: {server_message(raw)[:200]}", status=response.status)
            reply, problem = parse_body(data, split_think_tags=split_think)
            return _answer(reply, problem, response.status)
    except aiohttp.ClientConnectorError as exc:
        return Answer(error=_connect_sentence(server_root(url.rsplit("/v1/", 1)[0]), exc))
    except asyncio.TimeoutError:
        return Answer(error=f"no complete reply within {timeout_s:g} s (--timeout)")
    except SSEProtocolError as exc:
        return Answer(error=f"the stream is not server-sent events: {exc}")
    except aiohttp.ClientError as exc:
        return Answer(error=f"the connection failed: {exc or type(exc).__name__}")
