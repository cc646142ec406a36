"""Servers that break the rules of a streamed reply, for the load generator's bounds.

Each is a real asyncio HTTP/1.1 server on loopback, run in a thread of the test process (the stage
under test runs in its own process). GET requests (`/metrics`, `/version`) get a 404 at once; a POST
gets the behaviour:

- `endless-event`: an SSE reply that opens one event and never ends it: `data: ` and then 1 MB
  blocks of text, no blank line, for as long as the client reads;
- `silent`: reads the request and never answers;
- `stall`: sends the headers and one token event, then nothing.
- `many-chunks`: streams small token events without end.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

# no length and not chunked: the body ends when the connection does
HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n"
TOKEN = b'data: {"choices":[{"index":0,"text":"tok"}]}\n\n'
BLOCK = b"x" * (1024 * 1024)


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    if length:
        await reader.readexactly(length)
    return head


async def _behave(behaviour: str, writer: asyncio.StreamWriter, sent: list[int]) -> None:
    if behaviour == "silent":
        await asyncio.sleep(3600)
    writer.write(HEAD)
    if behaviour == "stall":
        writer.write(TOKEN)
        await writer.drain()
        await asyncio.sleep(3600)
    if behaviour == "endless-event":
        writer.write(b"data: ")
        while True:
            writer.write(BLOCK)
            sent[0] += len(BLOCK)
            await writer.drain()
    while True:  # many-chunks
        writer.write(TOKEN * 256)
        sent[0] += len(TOKEN) * 256
        await writer.drain()


class HostileServer:
    """One behaviour on a free loopback port; `bytes_sent` counts what the endless replies wrote."""

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.url = ""
        self._sent = [0]
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def bytes_sent(self) -> int:
        return self._sent[0]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            while True:
                head = await _read_request(reader)
                if not head.startswith(b"POST"):
                    writer.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                    await writer.drain()
                    continue
                await _behave(self.behaviour, writer, self._sent)
        writer.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            for task in asyncio.all_tasks(self._loop):
                task.cancel()
            self._loop.run_until_complete(asyncio.sleep(0))
            self._loop.close()

    def __enter__(self) -> HostileServer:
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the hostile server did not start")
        return self

    def __exit__(self, *_: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)


@contextlib.contextmanager
def hostile_server(behaviour: str) -> Iterator[HostileServer]:
    with HostileServer(behaviour) as server:
        yield server
