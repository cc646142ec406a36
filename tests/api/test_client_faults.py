"""The client against servers that fail on purpose: nothing listening, silence, a stall, a cut, a cancel.

Raw loopback sockets play the misbehaving servers, so the timings are real and
the bounds are real waits on a clock (checked not to fire early; a
generous `asyncio.wait_for` only guards a hang); `httpx.MockTransport` plays the
protocol oddities (an error event, a server that ignores `stream`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from tests.api.conftest import RawServer, one_event_then_hang, silent, two_events_then_drop
from tests.sim.harness import free_port
from tui.api.client import ApiClient, ReplyStream, Timeouts
from tui.api.errors import ApiError
from tui.api.reply import StreamDelta
from tui.api.request import ChatRequest, CompletionRequest, Sampling

StartRaw = Callable[[Callable[..., None]], RawServer]


async def test_connection_refused_is_one_sentence_that_says_how_to_start() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    expected = (f"No server is running at {url} (connection refused); start it with "
                "`npu-console serve --profile demo` or press `l` in the console, then try again.")
    async with ApiClient(url, profile="demo") as client:
        streamed = await client.stream(ChatRequest.single("hi")).collect()
        whole = await client.chat(ChatRequest.single("hi"))
        with pytest.raises(ApiError) as raised:
            await client.list_models()
    for reply in (streamed, whole):
        assert reply.error == expected and reply.status is None and not reply.partial
    assert str(raised.value) == expected


async def test_first_byte_timeout_on_a_server_that_accepts_and_never_answers(raw_server: StartRaw) -> None:
    server = raw_server(silent)
    timeouts = Timeouts(connect_s=2, first_byte_s=0.3, total_s=10)
    async with ApiClient(server.url, timeouts=timeouts) as client:
        started = time.monotonic()
        # The server never answers: only the bound ends the wait (60 s guards a hang, it is no speed claim).
        reply = await asyncio.wait_for(client.stream(ChatRequest.single("hi")).collect(), 60)
        elapsed = time.monotonic() - started
    assert server.accepted.is_set()
    assert reply.error == (f"{server.url} accepted the connection but sent nothing for 0.3 s; the server may be "
                           "hung, still loading or overloaded, check its log.")
    assert elapsed >= 0.25, "the bound did not fire early"


async def test_overall_bound_for_a_whole_reply_that_never_comes(raw_server: StartRaw) -> None:
    server = raw_server(silent)
    async with ApiClient(server.url, timeouts=Timeouts(first_byte_s=0.2, total_s=0.5)) as client:
        started = time.monotonic()
        reply = await asyncio.wait_for(client.complete(CompletionRequest("hi")), 60)
        elapsed = time.monotonic() - started
    assert reply.error is not None and reply.error.startswith(f"No reply from {server.url} within 0.5 s")
    assert elapsed >= 0.45, "the bound did not fire early"


async def test_a_stream_that_stalls_mid_reply_keeps_what_arrived(raw_server: StartRaw) -> None:
    server = raw_server(one_event_then_hang)
    async with ApiClient(server.url, timeouts=Timeouts(first_byte_s=0.3, total_s=10)) as client:
        reply = await client.stream(ChatRequest.single("hi")).collect()
    assert reply.text == "Hello" and reply.partial
    assert reply.error is not None
    assert reply.error.startswith(f"The stream from {server.url} stalled: nothing for 0.3 s")
    assert reply.error.endswith("the 5 characters that arrived are kept.")
    assert server.closed_by_client.wait(2)


async def test_overall_bound_cuts_a_trickling_stream(raw_server: StartRaw) -> None:
    server = raw_server(one_event_then_hang)
    async with ApiClient(server.url, timeouts=Timeouts(first_byte_s=5, total_s=0.4)) as client:
        reply = await asyncio.wait_for(client.stream(ChatRequest.single("hi")).collect(), 60)
    assert reply.text == "Hello" and reply.partial
    assert reply.error is not None and reply.error.startswith(f"No complete reply from {server.url} within 0.4 s")


async def test_a_dropped_connection_keeps_the_partial_text(raw_server: StartRaw) -> None:
    server = raw_server(two_events_then_drop)
    async with ApiClient(server.url) as client:
        reply = await client.stream(ChatRequest.single("hi")).collect()
    assert reply.text == "Hello" and reply.partial
    assert reply.error is not None and reply.error.startswith(f"{server.url} closed the stream before the reply")


async def test_cancel_propagates_and_closes_the_connection(raw_server: StartRaw) -> None:
    server = raw_server(one_event_then_hang)
    got_first = asyncio.Event()
    streams: list[ReplyStream] = []

    async def consume() -> None:
        async with ApiClient(server.url, timeouts=Timeouts(first_byte_s=30, total_s=60)) as client:
            stream = client.stream(ChatRequest.single("hi"))
            streams.append(stream)
            async with stream:
                async for _ in stream:
                    got_first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(got_first.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(server.closed_by_client.wait, 3), "the server never saw the connection close"
    reply = streams[0].reply
    assert reply.text == "Hello" and reply.partial
    assert reply.error == "the request was cancelled before the reply finished"


async def test_cancel_while_waiting_for_a_whole_reply(raw_server: StartRaw) -> None:
    server = raw_server(silent)
    async with ApiClient(server.url) as client:
        task = asyncio.create_task(client.chat(ChatRequest.single("hi")))
        await asyncio.to_thread(server.accepted.wait, 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert await asyncio.to_thread(server.closed_by_client.wait, 3)


# ------------------------------------------------------------------------- protocol oddities


def sse_response(*chunks: bytes, delay_s: float = 0.0) -> httpx.Response:
    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            if delay_s:
                await asyncio.sleep(delay_s)
            yield chunk

    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body())


async def test_error_event_inside_the_stream_via_transport() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return sse_response(
            b'data: {"choices":[{"index":0,"delta":{"content":"Half"}}]}\n\n',
            b'data: {"error":{"message":"The engine died (OOM on NPU 3)","type":"InternalServerError"}}\n\n',
            b"data: [DONE]\n\n",
        )

    async with ApiClient("http://sim.invalid", transport=httpx.MockTransport(handler)) as client:
        deltas: list[StreamDelta] = []
        reply = await client.stream(ChatRequest.single("hi")).collect(deltas.append)
    assert [d.text for d in deltas] == ["Half"]
    assert reply.partial and reply.text == "Half"
    assert reply.error == "the server reported an error mid-stream: The engine died (OOM on NPU 3)"


async def test_server_that_ignores_stream_true_and_sends_json() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"choices": [{"index": 0, "message": {"content": "<think>hm</think>ok"},
                                                      "finish_reason": "stop"}],
                                         "usage": {"prompt_tokens": 1, "completion_tokens": 5, "total_tokens": 6}})

    async with ApiClient("http://sim.invalid", transport=httpx.MockTransport(handler)) as client:
        deltas: list[StreamDelta] = []
        reply = await client.stream(ChatRequest.single("hi")).collect(deltas.append)
    assert deltas == [StreamDelta("ok", "hm", "stop")]
    assert reply.text == "ok" and reply.reasoning == "hm" and reply.error is None and not reply.partial


async def test_the_exact_request_and_the_bearer_key_on_the_wire() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return sse_response(b'data: {"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"stop"}]}\n\n')

    request = ChatRequest.single("hi", model="m", sampling=Sampling(max_tokens=3, stop=("\n",)))
    async with ApiClient("http://h:1/v1", api_key_env="K", env={"K": "s3cret"},
                         transport=httpx.MockTransport(handler)) as client:
        stream = client.stream(request)
        await stream.collect()
    sent = seen[0]
    assert str(sent.url) == "http://h:1/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer s3cret"
    assert sent.content == stream.request.body
    assert "s3cret" not in repr(stream.request)


async def test_a_transport_error_mid_stream_is_a_cut() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        async def body() -> AsyncIterator[bytes]:
            yield b'data: {"choices":[{"index":0,"delta":{"content":"abc"}}]}\n\n'
            raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")

        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body())

    async with ApiClient("http://sim.invalid", transport=httpx.MockTransport(handler)) as client:
        reply = await client.stream(ChatRequest.single("hi")).collect()
    assert reply.text == "abc" and reply.partial
    assert reply.error is not None and "peer closed connection" in reply.error


async def test_keep_alive_comments_keep_a_slow_stream_alive() -> None:
    """Silence is measured between bytes: `: ping` every 0.1 s outlives a 0.3 s silence bound."""

    def handler(request: httpx.Request) -> httpx.Response:
        return sse_response(*([b": ping\n\n"] * 6), b'data: {"choices":[{"index":0,"delta":{"content":"late"},'
                            b'"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n', delay_s=0.1)

    async with ApiClient("http://sim.invalid", timeouts=Timeouts(first_byte_s=0.3, total_s=10),
                         transport=httpx.MockTransport(handler)) as client:
        reply = await client.stream(ChatRequest.single("hi")).collect()
    assert reply.text == "late" and reply.error is None and not reply.partial
    assert reply.timings.ttft_ms is not None and reply.timings.ttft_ms >= 600
