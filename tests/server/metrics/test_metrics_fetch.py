"""`fetch_metrics` always comes back within its bound, with values or one sentence."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.sim.harness import free_port
from tui.api.metrics_fetch import fetch_metrics, metrics_url
from tui.server.serving_metrics import ServingMetrics

PAGE = (
    "# TYPE vllm:num_requests_running gauge\n"
    'vllm:num_requests_running{engine="0",model_name="m"} 2.0\n'
    'vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.25\n'
)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A raw socket on loopback that accepts connections, reads nothing and never answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.05)
    held: list[socket.socket] = []
    done = threading.Event()

    def accept_forever() -> None:
        while not done.is_set():
            try:
                connection, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            held.append(connection)

    thread = threading.Thread(target=accept_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        done.set()
        thread.join(timeout=2)
        for connection in held:
            connection.close()
        listener.close()


class RawHttp:
    """An asyncio server on loopback answering every request with one canned raw HTTP response."""

    def __init__(self, status_line: str, body: str, content_type: str = "text/plain") -> None:
        self.status_line = status_line
        self.body = body.encode()
        self.content_type = content_type
        self.requests: list[bytes] = []
        self.url = ""
        self._server: asyncio.Server | None = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.requests.append(await reader.readuntil(b"\r\n\r\n"))
        head = (
            f"HTTP/1.1 {self.status_line}\r\nContent-Type: {self.content_type}\r\n"
            f"Content-Length: {len(self.body)}\r\nConnection: close\r\n\r\n"
        )
        writer.write(head.encode() + self.body)
        await writer.drain()
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()

    async def __aenter__(self) -> RawHttp:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


async def test_a_closed_port_says_nothing_answers(client: httpx.AsyncClient) -> None:
    base = f"http://127.0.0.1:{free_port()}"
    result = await fetch_metrics(client, base, timeout=2)
    assert result == f"nothing answers at {base}; is the server up?"


async def test_a_server_that_never_answers_times_out_within_the_bound(
    client: httpx.AsyncClient, silent_server: str
) -> None:
    # The server never answers: without the bound the call would never come back (60 s only guards a hang).
    result = await asyncio.wait_for(fetch_metrics(client, silent_server, timeout=0.3), 60)
    assert isinstance(result, str) and result.startswith(f"no answer from {silent_server}/metrics within 0.3 s")


async def test_a_500_gives_the_status_and_the_body_s_first_line(client: httpx.AsyncClient) -> None:
    body = "\nEngineCore encountered an issue. See stack trace (above) for the root cause.\nTraceback (most recent…\n"
    async with RawHttp("500 Internal Server Error", body) as server:
        result = await fetch_metrics(client, server.url)
    assert result == (
        f"{server.url}/metrics answered 500 Internal Server Error: "
        "EngineCore encountered an issue. See stack trace (above) for the root cause."
    )


async def test_a_404_asks_whether_this_is_vllm(client: httpx.AsyncClient) -> None:
    async with RawHttp("404 Not Found", '{"detail":"Not Found"}', "application/json") as server:
        result = await fetch_metrics(client, server.url)
    assert result == f'{server.url}/metrics answered 404 Not Found: {{"detail":"Not Found"}}; is this a vLLM server?'


async def test_a_page_without_vllm_metrics_is_not_taken_for_an_idle_server(client: httpx.AsyncClient) -> None:
    async with RawHttp("200 OK", "<html><body>Welcome to nginx!</body></html>", "text/html") as server:
        result = await fetch_metrics(client, server.url)
    assert result == f"{server.url}/metrics answered, but with no vllm:* metrics; is this a vLLM server?"


async def test_a_good_page_is_parsed_and_the_api_key_is_sent(client: httpx.AsyncClient) -> None:
    async with RawHttp("200 OK", PAGE, "text/plain; version=0.0.4") as server:
        result = await fetch_metrics(client, f"{server.url}/v1", api_key="sk-test")
    assert result == ServingMetrics(
        running=2, kv_cache_usage=0.25, kv_cache_usage_max=0.25, model_names=("m",), engines=1
    )
    request = server.requests[0].decode().lower()
    assert request.startswith("get /metrics http/1.1") and "authorization: bearer sk-test" in request


@pytest.mark.parametrize(
    ("base", "url"),
    [
        ("http://h:8000", "http://h:8000/metrics"),
        ("http://h:8000/", "http://h:8000/metrics"),
        ("http://h:8000/v1", "http://h:8000/metrics"),
        ("http://h:8000/v1/", "http://h:8000/metrics"),
        ("http://gw/llm", "http://gw/llm/metrics"),
    ],
)
def test_metrics_url(base: str, url: str) -> None:
    assert metrics_url(base) == url
