"""The OpenAI-compatible client: `/v1/models`, chat and completions, whole or streamed, always bounded.

One `ApiClient` per server URL, used by the playground, `npu-console ask` and
the tests. It never raises for a request that failed: a refused connection, a
timeout, an HTTP error or a stream cut by a crash all come back as a `Reply`
whose `error` is one sentence (quoting the server's own message) and whose
text is whatever had arrived. Only `list_models` raises (`ApiError`), because
it has no partial result to keep. `asyncio.CancelledError` always propagates,
and the connection is closed on the way out, so Esc in the playground really
stops the server's work (vLLM aborts a request whose client left).

Three bounds, because a server can fail at each step:
- `connect_s`: nothing accepts the connection (a firewall that drops packets);
- `first_byte_s`: the longest silence we accept once connected: before the
  first byte of a streamed reply and between two of its reads (keep-alive
  comments count as life). A reply that is not streamed is silent until it is
  complete, so for it only the overall bound applies;
- `total_s`: the whole request, however the server trickles.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

from tui.api.assemble import ReplyAssembler, cut_sentence, parse_body
from tui.api.bounded import within
from tui.api.errors import ApiError, describe, http_error_sentence, refused, refused_sentence
from tui.api.reply import ModelInfo, Reply, StreamDelta
from tui.api.request import (
    MODELS_PATH,
    ChatRequest,
    CompletionRequest,
    GenerationRequest,
    HttpRequest,
    build_http_request,
    normalize_root,
)
from tui.api.sse import SSEDecoder, SSEProtocolError
from tui.api.timing import StreamTimer

ERROR_BODY_LIMIT = 64 * 1024
"""Bytes of an error body we read: enough for any message, bounded against a proxy's endless page."""

_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}


@dataclass(frozen=True)
class Timeouts:
    """Seconds: to connect, of silence once connected, and for the whole request."""

    connect_s: float = 5.0
    first_byte_s: float = 60.0
    total_s: float = 600.0


def _is_loopback(root: str) -> bool:
    host = (urlsplit(root).hostname or "").lower()
    return host in _LOOPBACK_HOSTS or host.startswith("127.")


class ApiClient:
    """Talks to one server. Use as `async with ApiClient(url) as client:` so its connections close.

    `api_key_env` names the variable holding the key (a profile's
    `server.api_key_env`); it is read from `env` (default: this process's
    environment) at each request and sent as `Authorization: Bearer …`.
    `headers` are sent with every request (and shown in `curl`). `transport`
    replaces the network (tests). Proxy variables are honoured as curl does,
    except for loopback servers, which no proxy can reach.
    `split_think_tags` moves inline `<think>…</think>` out of the answer, for
    servers started without a reasoning parser.
    """

    def __init__(
        self,
        url: str,
        *,
        api_key_env: str | None = None,
        env: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeouts: Timeouts | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        profile: str | None = None,
        split_think_tags: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.root = normalize_root(url)
        self.api_key_env = api_key_env or None
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.headers: tuple[tuple[str, str], ...] = tuple((headers or {}).items())
        self.timeouts = timeouts or Timeouts()
        self.profile = profile
        self.split_think_tags = split_think_tags
        self.clock = clock
        self._http = httpx.AsyncClient(transport=transport, trust_env=not _is_loopback(self.root))

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # requests ------------------------------------------------------------------------------

    def prepare(self, request: GenerationRequest, *, stream: bool) -> HttpRequest:
        """The exact HTTP request `request` becomes (what is sent, and what `as_curl` prints)."""
        return build_http_request(self.root, request, stream=stream, headers=self.headers,
                                  api_key_env=self.api_key_env)

    def models_request(self) -> HttpRequest:
        return HttpRequest("GET", self.root + MODELS_PATH, headers=self.headers, api_key_env=self.api_key_env)

    async def list_models(self) -> tuple[ModelInfo, ...]:
        """The served models, in the server's order; raises `ApiError` with the sentence when that fails."""
        http_request = self.models_request()
        try:
            response = await within(self._send(http_request, idle_s=self.timeouts.first_byte_s),
                                               self.timeouts.total_s)
            try:
                body = await within(response.aread(), self.timeouts.total_s)
            finally:
                await response.aclose()
        except (httpx.HTTPError, asyncio.TimeoutError, OSError) as exc:
            raise ApiError(self._exchange_failure(exc, http_request, streamed=False)) from exc
        if response.status_code != 200:
            sentence, message = self._http_error(http_request, response, body)
            raise ApiError(sentence, status=response.status_code, message=message)
        try:
            data = json.loads(body)
        except ValueError:
            raise ApiError(f"{http_request.url} answered, but not with JSON; is this an OpenAI-compatible "
                           "server?", status=response.status_code) from None
        entries = data.get("data") if isinstance(data, Mapping) else None
        if not isinstance(entries, list):
            raise ApiError(f"{http_request.url} answered without a `data` list of models; is this an "
                           "OpenAI-compatible server?", status=response.status_code)
        found = (ModelInfo.from_json(entry) for entry in entries if isinstance(entry, Mapping))
        return tuple(model for model in found if model is not None)

    async def chat(self, request: ChatRequest) -> Reply:
        """A chat reply, not streamed."""
        return await self.send(request)

    async def complete(self, request: CompletionRequest) -> Reply:
        """A completion, not streamed."""
        return await self.send(request)

    def stream_chat(self, request: ChatRequest) -> ReplyStream:
        """A streamed chat reply: `async with client.stream_chat(r) as s: async for delta in s: …`; then `s.reply`."""
        return self.stream(request)

    def stream_complete(self, request: CompletionRequest) -> ReplyStream:
        """A streamed completion, used like `stream_chat`."""
        return self.stream(request)

    def stream(self, request: GenerationRequest) -> ReplyStream:
        """A streamed reply for either kind of request; nothing is sent until it is iterated."""
        return ReplyStream(self, self.prepare(request, stream=True))

    async def send(self, request: GenerationRequest) -> Reply:
        """A whole reply for either kind of request (`stream` false), bounded by `total_s`."""
        http_request = self.prepare(request, stream=False)
        timer = StreamTimer(clock=self.clock)
        started = timer.start()
        deadline = started + self.timeouts.total_s
        try:
            response = await within(self._send(http_request, idle_s=self.timeouts.total_s),
                                              self.timeouts.total_s)
            try:
                body = await within(response.aread(), max(0.001, deadline - self.clock()))
            finally:
                await response.aclose()
        except (httpx.HTTPError, asyncio.TimeoutError, OSError) as exc:
            return Reply(error=self._exchange_failure(exc, http_request, streamed=False),
                         timings=timer.finish_whole(None))
        if not 200 <= response.status_code < 300:
            sentence, _ = self._http_error(http_request, response, body)
            return Reply(error=sentence, status=response.status_code, timings=timer.finish_whole(None))
        return self._whole_reply(http_request, response.status_code, body, timer)

    # plumbing ------------------------------------------------------------------------------

    def api_key(self) -> str | None:
        """The key from the named variable now, or None (unset or empty: the request goes without one)."""
        if not self.api_key_env:
            return None
        return self.env.get(self.api_key_env) or None

    async def _send(self, http_request: HttpRequest, *, idle_s: float) -> httpx.Response:
        """Send and return once the status line and headers are in; the body is read by the caller."""
        headers = dict(http_request.headers)
        key = self.api_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        timeout = httpx.Timeout(
            connect=self.timeouts.connect_s,
            read=idle_s,
            write=max(self.timeouts.connect_s, 30.0),
            pool=self.timeouts.connect_s,
        )
        built = self._http.build_request(
            http_request.method, http_request.url, headers=headers, content=http_request.body, timeout=timeout
        )
        return await self._http.send(built, stream=True)

    def _whole_reply(self, http_request: HttpRequest, status: int, body: bytes, timer: StreamTimer) -> Reply:
        try:
            data: Any = json.loads(body)
        except ValueError:
            first = body.decode("utf-8", errors="replace").strip().splitlines()[:1]
            shown = f": {first[0][:200]}" if first else ""
            return Reply(error=f"{http_request.url} answered {status}, but not with JSON{shown}",
                         status=status, timings=timer.finish_whole(None))
        reply, problem = parse_body(data, split_think_tags=self.split_think_tags)
        completion = reply.usage.completion_tokens if reply.usage is not None else None
        timings = timer.finish_whole(completion)
        error = None if problem is None else f"{http_request.url} answered {status}, but {problem}"
        return replace(reply, timings=timings, status=status, error=error)

    def _http_error(self, http_request: HttpRequest, response: httpx.Response, body: bytes) -> tuple[str, str]:
        return http_error_sentence(
            http_request.url, response.status_code, response.reason_phrase, body,
            api_key_env=self.api_key_env, key_present=self.api_key() is not None,
        )

    def _exchange_failure(self, exc: BaseException, http_request: HttpRequest, *, streamed: bool) -> str:
        """The sentence for a request that got no response (nothing, or not even headers)."""
        root = self.root
        if isinstance(exc, httpx.ConnectTimeout):
            return (f"No connection to {root} within {self.timeouts.connect_s:g} s; check the host and port, "
                    "and that no firewall drops the connection.")
        if isinstance(exc, httpx.ConnectError) or (isinstance(exc, OSError) and refused(exc)):
            if refused(exc):
                return refused_sentence(root, self.profile)
            return f"Cannot connect to {root}: {describe(exc)}; check the URL and that the host is reachable."
        if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
            return f"{http_request.url} is not a usable http:// or https:// URL ({describe(exc)})."
        if isinstance(exc, httpx.ReadTimeout) and streamed:
            return self._silent_sentence()
        if isinstance(exc, (httpx.TimeoutException, asyncio.TimeoutError)):
            return (f"No reply from {root} within {self.timeouts.total_s:g} s; the server may be hung or "
                    "overloaded (check its log), or the reply needs a longer time limit.")
        if isinstance(exc, httpx.RemoteProtocolError):
            return (f"{root} closed the connection without answering ({describe(exc)}); the server may have "
                    "crashed, check its log.")
        return f"The request to {http_request.url} failed: {describe(exc)}."

    def _silent_sentence(self) -> str:
        return (f"{self.root} accepted the connection but sent nothing for {self.timeouts.first_byte_s:g} s; "
                "the server may be hung, still loading or overloaded, check its log.")


class ReplyStream:
    """One streamed reply: an async iterator of `StreamDelta`s and, once it ends, `reply`.

    Use it as an async context manager so the connection is closed however the
    loop ends (break, exception, cancel). Failures never raise out of the
    iteration: it just ends, and `reply.error` says why. `request` is the exact
    HTTP request, for `as_curl`.
    """

    def __init__(self, client: ApiClient, request: HttpRequest) -> None:
        self.request = request
        self._client = client
        self._timer = StreamTimer(clock=client.clock)
        self._assembler = ReplyAssembler(split_think_tags=client.split_think_tags, timer=self._timer)
        self._decoder = SSEDecoder()
        self._response: httpx.Response | None = None
        self._chunks: AsyncIterator[bytes] | None = None
        self._pending: collections.deque[StreamDelta] = collections.deque()
        self._reply: Reply | None = None
        self._deadline = 0.0
        self._status: int | None = None
        self._opened = False

    async def __aenter__(self) -> ReplyStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> ReplyStream:
        return self

    async def __anext__(self) -> StreamDelta:
        while True:
            if self._pending:
                return self._pending.popleft()
            if self._reply is not None:
                raise StopAsyncIteration
            if not self._opened:
                await self._open()
            else:
                await self._read()

    @property
    def finished(self) -> bool:
        return self._reply is not None

    @property
    def reply(self) -> Reply:
        """The final reply; only once the iteration ended or the stream was closed."""
        if self._reply is None:
            raise RuntimeError("the stream is still open; iterate it to the end or close it first")
        return self._reply

    async def collect(self, on_delta: Callable[[StreamDelta], None] | None = None) -> Reply:
        """Read the whole stream, handing each delta to `on_delta`; the final reply."""
        async with self:
            async for delta in self:
                if on_delta is not None:
                    on_delta(delta)
        return self.reply

    async def aclose(self) -> None:
        """Close the connection; a reply that had not finished is kept as partial (a cancel, or a break)."""
        if self._reply is None:
            sent = self._opened
            self._finish(
                "the request was cancelled before the reply finished" if sent
                else "the request was cancelled before it was sent",
                partial=sent,
            )
        await self._close_response()

    async def _close_response(self) -> None:
        response, self._response = self._response, None
        if response is not None:
            await response.aclose()

    def _finish(self, error: str | None, *, partial: bool | None = None) -> None:
        if self._reply is not None:
            return
        tail = self._assembler.end()
        if tail is not None:
            self._pending.append(tail)
        reply = self._assembler.reply(error=error, status=self._status)
        if partial is not None and reply.partial != partial:
            reply = replace(reply, partial=partial)
        self._reply = reply

    async def _open(self) -> None:
        client = self._client
        self._opened = True
        started = self._timer.start()
        self._deadline = started + client.timeouts.total_s
        try:
            response = await within(
                client._send(self.request, idle_s=client.timeouts.first_byte_s), client.timeouts.total_s
            )
        except (httpx.HTTPError, asyncio.TimeoutError, OSError) as exc:
            self._finish(client._exchange_failure(exc, self.request, streamed=True), partial=False)
            return
        self._response = response
        self._status = response.status_code
        if not 200 <= response.status_code < 300:
            body = await self._error_body(response)
            await self._close_response()
            sentence, _ = client._http_error(self.request, response, body)
            self._finish(sentence, partial=False)
            return
        content_type = response.headers.get("content-type", "")
        if "json" in content_type and "event-stream" not in content_type:
            await self._whole_body(response)
            return
        self._chunks = response.aiter_bytes()

    async def _error_body(self, response: httpx.Response) -> bytes:
        """Up to `ERROR_BODY_LIMIT` bytes of an error answer, within the time left."""
        parts: list[bytes] = []
        size = 0

        async def read() -> None:
            nonlocal size
            async for part in response.aiter_bytes():
                parts.append(part)
                size += len(part)
                if size >= ERROR_BODY_LIMIT:
                    break

        try:
            await within(read(), max(0.001, min(self._client.timeouts.first_byte_s,
                                                          self._deadline - self._client.clock())))
        except (httpx.HTTPError, asyncio.TimeoutError):
            pass
        return b"".join(parts)[:ERROR_BODY_LIMIT]

    async def _whole_body(self, response: httpx.Response) -> None:
        """The server ignored `stream: true` and sent one JSON body: deliver it as one delta."""
        client = self._client
        try:
            body = await within(response.aread(), max(0.001, self._deadline - client.clock()))
        except (httpx.HTTPError, asyncio.TimeoutError) as exc:
            await self._close_response()
            self._finish(client._exchange_failure(exc, self.request, streamed=True), partial=True)
            return
        await self._close_response()
        reply = client._whole_reply(self.request, response.status_code, body, self._timer)
        if reply.text or reply.reasoning or reply.finish_reason:
            self._pending.append(StreamDelta(reply.text, reply.reasoning, reply.finish_reason, reply.logprobs))
        self._reply = reply

    async def _read(self) -> None:
        client = self._client
        chunks = self._chunks
        assert chunks is not None
        remaining = self._deadline - client.clock()
        idle = client.timeouts.first_byte_s
        try:
            if remaining <= 0:
                raise asyncio.TimeoutError
            chunk = await within(chunks.__anext__(), min(remaining, idle))
        except StopAsyncIteration:
            await self._end_of_body()
            return
        except (asyncio.TimeoutError, httpx.TimeoutException):
            overall = self._deadline - client.clock() <= 0.001 or remaining <= idle
            await self._fail(self._timeout_sentence(overall))
            return
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.NetworkError) as exc:
            self._feed_tail()
            await self._fail(cut_sentence(self._assembler, truncated=self._decoder.truncated,
                                          detail=describe(exc), where=client.root))
            return
        except httpx.HTTPError as exc:
            await self._fail(f"Reading the stream from {client.root} failed: {describe(exc)}; "
                             f"{self._kept()}.")
            return
        now = client.clock()
        try:
            events = self._decoder.feed(chunk)
        except SSEProtocolError as exc:
            await self._fail(f"{client.root} sent something that is not an event stream ({exc}); {self._kept()}.")
            return
        for event in events:
            delta = self._assembler.feed(event, now)
            if delta is not None:
                self._pending.append(delta)
        if self._assembler.done:
            await self._end_of_body()

    def _feed_tail(self) -> None:
        """The connection broke: complete lines still waiting in the decoder are delivered."""
        now = self._client.clock()
        for event in self._decoder.close():
            delta = self._assembler.feed(event, now)
            if delta is not None:
                self._pending.append(delta)

    async def _end_of_body(self) -> None:
        self._feed_tail()
        error = None
        if not self._assembler.finished:
            error = cut_sentence(self._assembler, truncated=self._decoder.truncated, where=self._client.root)
        self._finish(error)
        await self._close_response()

    async def _fail(self, sentence: str) -> None:
        self._finish(sentence, partial=True)
        await self._close_response()

    def _kept(self) -> str:
        size = len(self._assembler.text) + len(self._assembler.reasoning)
        return "no text had arrived" if size == 0 else f"the {size} characters that arrived are kept"

    def _timeout_sentence(self, overall: bool) -> str:
        client = self._client
        if overall:
            return (f"No complete reply from {client.root} within {client.timeouts.total_s:g} s; "
                    f"{self._kept()} (give long replies a longer time limit).")
        if self._assembler.events == 0:
            return client._silent_sentence()
        return (f"The stream from {client.root} stalled: nothing for {client.timeouts.first_byte_s:g} s after "
                f"{self._assembler.events} events; the server may be hung, check its log; {self._kept()}.")
