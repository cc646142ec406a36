"""A small asyncio HTTP/1.1 server: keep-alive, pipelining, chunked streaming.

Stdlib only and kept lean, because a benchmark uses the simulated server with
zero latency as an "instant" target and wants thousands of requests per second
from it: requests are parsed straight off a `Protocol` buffer, and a handler that
can answer at once returns a `Response` that is written in the same call,
without creating a task. Only slow or streaming answers become coroutines; the
connection then holds later pipelined requests until the answer is out.

Responses carry uvicorn's `server` and `date` headers. A `StreamResponse` is sent
with `Transfer-Encoding: chunked`, each chunk written as soon as it is produced,
with flow control when the client reads slowly.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from email.utils import formatdate
from http import HTTPStatus

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 64 * 1024 * 1024
INTERNAL_ERROR_BODY = (
    b'{"error":{"message":"Internal Server Error","type":"InternalServerError","param":null,"code":500}}'
)


class Request:
    """One parsed request; `disconnected()` tells a long handler that the client left."""

    __slots__ = (
        "_connection",
        "body",
        "client",
        "headers",
        "keep_alive",
        "method",
        "path",
        "query",
        "target",
        "version",
    )

    def __init__(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes,
        client: str,
        keep_alive: bool,
        connection: _Connection,
        version: str = "HTTP/1.1",
    ) -> None:
        self.method = method
        self.version = version
        self.target = target
        path, _, query = target.partition("?")
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.client = client
        self.keep_alive = keep_alive
        self._connection = connection

    def disconnected(self) -> bool:
        return self._connection.closed

    async def drained(self) -> None:
        """Wait until the answer written so far has left this process."""
        await self._connection.drained()


class Response:
    """A complete answer with a known length."""

    __slots__ = ("body", "content_type", "headers", "status")

    def __init__(
        self,
        status: int,
        body: bytes = b"",
        content_type: str = "application/json",
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers


class StreamResponse:
    """An answer sent in chunks as `chunks` yields them."""

    __slots__ = ("chunks", "content_type", "headers", "status")

    def __init__(
        self,
        chunks: AsyncIterator[bytes],
        status: int = 200,
        content_type: str = "text/event-stream; charset=utf-8",
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.chunks = chunks
        self.status = status
        self.content_type = content_type
        self.headers = headers


HandlerResult = Response | StreamResponse | Awaitable[Response | StreamResponse]
Handler = Callable[[Request], HandlerResult]
AccessLog = Callable[[Request, int], None]
BadRequestLog = Callable[[], None]

_PHRASES = {status.value: status.phrase for status in HTTPStatus}


def reason_phrase(status: int) -> str:
    """`OK`, `Not Found`: the words uvicorn's access log puts after the status code."""
    return _PHRASES.get(status, "")


class _DateHeader:
    """The `date` header, formatted once per second rather than per response."""

    def __init__(self) -> None:
        self._second = -1
        self._value = ""

    def get(self) -> str:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._value = formatdate(now, usegmt=True)
        return self._value


class HttpServer:
    """Serves `handler` on a listening socket the caller created (and bound)."""

    def __init__(
        self,
        handler: Handler,
        access_log: AccessLog | None = None,
        bad_request_log: BadRequestLog | None = None,
    ) -> None:
        self.handler = handler
        self.access_log = access_log
        self.bad_request_log = bad_request_log
        self.date = _DateHeader()
        self.connections: set[_Connection] = set()
        self.busy_count = 0
        self.idle = asyncio.Event()
        self.idle.set()
        self._server: asyncio.base_events.Server | None = None

    async def start(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), sock=sock, backlog=1024)

    async def stop(self, grace_s: float = 5.0) -> None:
        """Stop accepting, let running answers finish for up to `grace_s`, then close everything."""
        if self._server is not None:
            self._server.close()
        for connection in list(self.connections):
            connection.close_when_idle()
        try:
            await asyncio.wait_for(self.idle.wait(), grace_s)
        except asyncio.TimeoutError:
            pass
        for connection in list(self.connections):
            connection.abort()
        if self._server is not None:
            await self._server.wait_closed()


class _Connection(asyncio.Protocol):
    """One client connection: parse, dispatch in order, write back."""

    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.busy = False
        self.closed = False
        self.client = "-"
        self._closing_when_idle = False
        self._can_write = asyncio.Event()
        self._can_write.set()

    # asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.client = f"{peer[0]}:{peer[1]}"
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._can_write.set()
        self.server.connections.discard(self)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self._process()

    def pause_writing(self) -> None:
        self._can_write.clear()

    def resume_writing(self) -> None:
        self._can_write.set()

    # lifecycle ---------------------------------------------------------------------------

    def _set_busy(self, busy: bool) -> None:
        """Track answers in progress, so `HttpServer.stop` can wait for them without polling."""
        if busy == self.busy:
            return
        self.busy = busy
        self.server.busy_count += 1 if busy else -1
        if self.server.busy_count == 0:
            self.server.idle.set()
        else:
            self.server.idle.clear()

    def close_when_idle(self) -> None:
        self._closing_when_idle = True
        if not self.busy and self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.abort()
        self.closed = True

    # request handling ----------------------------------------------------------------------

    def _process(self) -> None:
        while not self.busy and not self.closed:
            request = self._parse()
            if request is None:
                return
            result = self.server.handler(request)
            if isinstance(result, Response):
                self._send(request, result)
                if not request.keep_alive or self._closing_when_idle:
                    self._close()
                    return
                continue
            self._set_busy(True)
            asyncio.get_running_loop().create_task(self._finish(request, result))

    async def _finish(self, request: Request, pending: Awaitable[Response | StreamResponse] | StreamResponse) -> None:
        started = False
        try:
            result = pending if isinstance(pending, StreamResponse) else await pending
            if isinstance(result, Response):
                self._send(request, result)
            else:
                started = True
                await self._stream(request, result)
        except asyncio.CancelledError:
            self.abort()
            raise
        except Exception:
            if started:
                self.abort()
            else:
                self._send(request, Response(500, INTERNAL_ERROR_BODY))
        finally:
            self._set_busy(False)
        if self.closed:
            return
        if not request.keep_alive or self._closing_when_idle:
            self._close()
        elif self.buffer:
            self._process()

    def _parse(self) -> Request | None:
        buffer = self.buffer
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(buffer) > MAX_HEAD_BYTES:
                self._reject()
            return None
        head = bytes(buffer[:end]).decode("latin-1")
        lines = head.split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self._reject()
            return None
        method, target, version = parts
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                self._reject()
                return None
            headers[name.strip().lower()] = value.strip()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._reject()  # request bodies must carry a length; clients of this API always do
            return None
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            self._reject()
            return None
        if length < 0 or length > MAX_BODY_BYTES:
            self._reject()
            return None
        total = end + 4 + length
        if len(buffer) < total:
            if headers.get("expect", "").lower() == "100-continue" and len(buffer) == end + 4:
                self._write(b"HTTP/1.1 100 Continue\r\n\r\n")
            return None
        body = bytes(buffer[end + 4 : total])
        del buffer[:total]
        connection = headers.get("connection", "").lower()
        keep_alive = "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
        return Request(method, target, headers, body, self.client, keep_alive, self, version)

    def _reject(self) -> None:
        """Answer a malformed request the way uvicorn does, then hang up."""
        if self.server.bad_request_log is not None:
            self.server.bad_request_log()
        body = b"Invalid HTTP request received."
        self._write(
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"connection: close\r\ncontent-length: %d\r\n\r\n%b" % (len(body), body)
        )
        self._close()

    def _head(
        self,
        request: Request,
        status: int,
        content_type: str,
        extra: tuple[tuple[str, str], ...],
        length: int | None,
    ) -> bytes:
        keep_alive = request.keep_alive and not self._closing_when_idle
        lines = [
            f"HTTP/1.1 {status} {_PHRASES.get(status, 'Unknown')}",
            f"date: {self.server.date.get()}",
            "server: uvicorn",
        ]
        if length is None:
            lines.append("transfer-encoding: chunked")
        else:
            lines.append(f"content-length: {length}")
        if content_type:
            lines.append(f"content-type: {content_type}")
        lines.extend(f"{name}: {value}" for name, value in extra)
        if not keep_alive:
            lines.append("connection: close")
        elif request.version == "HTTP/1.0":
            lines.append("connection: keep-alive")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send(self, request: Request, response: Response) -> None:
        head = self._head(request, response.status, response.content_type, response.headers, len(response.body))
        self._write(head if request.method == "HEAD" else head + response.body)
        if self.server.access_log is not None:
            self.server.access_log(request, response.status)

    async def _stream(self, request: Request, response: StreamResponse) -> None:
        self._write(self._head(request, response.status, response.content_type, response.headers, None))
        if self.server.access_log is not None:
            self.server.access_log(request, response.status)
        chunks = response.chunks
        try:
            async for chunk in chunks:
                if self.closed:
                    break
                if chunk:
                    self._write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
                if not self._can_write.is_set():
                    await self._can_write.wait()
        finally:
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()
        if not self.closed:
            self._write(b"0\r\n\r\n")

    async def drained(self) -> None:
        """Wait until everything written so far has left the process (used before a simulated crash).

        With a high-water mark of zero, asyncio pauses the protocol while any
        byte is still buffered and resumes it once the buffer is empty.
        """
        if self.transport is None or self.closed:
            return
        self.transport.set_write_buffer_limits(high=0)
        await self._can_write.wait()

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        self.closed = True
