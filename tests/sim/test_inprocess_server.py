"""The HTTP server and the serving logic in this process, on a real loopback socket.

Running them in-process lets a test set the latency model, the batch size and
an API key per test without starting a subprocess each time, and lets it watch
the server's own counters.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx

from tui.sim.demo import DemoHost
from tui.sim.engine_plan import build_plan
from tui.sim.http_server import HttpServer
from tui.sim.model_config import load_model_facts
from tui.sim.openai_api import SimServing
from tui.sim.serve_args import parse_serve_args
from tui.sim.settings import load_settings
from tui.sim.vllm_serve import bind_socket

CHAT = {"messages": [{"role": "user", "content": "hello"}]}


async def until(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    """Let the server run until `condition()` holds; the bound only guards a hang."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout_s:g} s"
        await asyncio.sleep(0.01)


class CrashedError(Exception):
    """Stands in for `os._exit` so a crash test does not end pytest."""


@asynccontextmanager
async def running(
    demo: DemoHost,
    *flags: str,
    ttft_ms: float = 0,
    tpot_ms: float = 0,
    api_keys: tuple[str, ...] = (),
    on_crash: Callable[[], None] | None = None,
) -> AsyncIterator[tuple[httpx.AsyncClient, SimServing, list[str]]]:
    args = parse_serve_args([str(demo.model_dir()), *flags])
    plan = build_plan(args, load_model_facts(args.model), {})
    settings = load_settings({"NPU_CONSOLE_SIM_TTFT_MS": str(ttft_ms), "NPU_CONSOLE_SIM_TPOT_MS": str(tpot_ms)})
    serving = SimServing(plan, settings, api_keys=api_keys)
    if on_crash is not None:
        serving.on_crash = on_crash
    warnings: list[str] = []
    http = HttpServer(serving.handle, bad_request_log=lambda: warnings.append("Invalid HTTP request received."))
    sock = bind_socket("127.0.0.1", 0)
    await http.start(sock)
    port = sock.getsockname()[1]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=20) as client:
            yield client, serving, warnings
    finally:
        await http.stop(grace_s=1)


async def test_api_key_guards_the_v1_routes(demo: DemoHost) -> None:
    async with running(demo, api_keys=("sekret",)) as (client, _, _):
        assert (await client.get("/v1/models")).status_code == 401
        assert (await client.get("/v1/models")).json() == {"error": "Unauthorized"}
        assert (await client.get("/v1/models", headers={"Authorization": "Bearer sekret"})).status_code == 200
        assert (await client.get("/health")).status_code == 200


async def test_latency_model_delays_first_token_and_each_next_one(demo: DemoHost) -> None:
    async with running(demo, ttft_ms=150, tpot_ms=10) as (client, serving, _):
        started = time.monotonic()
        body = (await client.post("/v1/completions", json={"prompt": "x", "max_tokens": 20})).json()
        elapsed = time.monotonic() - started
        assert body["usage"]["completion_tokens"] == 20
        assert elapsed >= 0.15 + 19 * 0.010
        assert serving.metrics.ttft.count == 1 and serving.metrics.ttft.total >= 0.15


async def test_max_num_seqs_makes_requests_wait(demo: DemoHost) -> None:
    async with running(demo, "--max-num-seqs", "1", tpot_ms=20) as (client, serving, _):
        request = {**CHAT, "max_tokens": 50, "ignore_eos": True}  # a 1 s window with one running, one waiting
        first = asyncio.create_task(client.post("/v1/chat/completions", json=request))
        second = asyncio.create_task(client.post("/v1/chat/completions", json=request))
        await until(lambda: serving.metrics.running == 1 and serving.metrics.waiting == 1)
        metrics = (await client.get("/metrics")).text
        assert re.search(r"^vllm:num_requests_waiting\{[^}]*\} 1\.0$", metrics, re.MULTILINE)
        assert re.search(r"^vllm:num_requests_running\{[^}]*\} 1\.0$", metrics, re.MULTILINE)
        replies = await asyncio.gather(first, second)
        assert [r.status_code for r in replies] == [200, 200]
        assert (serving.metrics.running, serving.metrics.waiting) == (0, 0)


async def test_client_leaving_mid_stream_aborts_the_request(demo: DemoHost) -> None:
    async with running(demo, tpot_ms=20) as (client, serving, _):
        request = {**CHAT, "max_tokens": 500, "ignore_eos": True, "stream": True}
        async with client.stream("POST", "/v1/chat/completions", json=request) as reply:
            async for line in reply.aiter_lines():
                if line.startswith("data: {") and '"content":""' not in line:
                    break
        await until(lambda: serving.metrics.finished["abort"] == 1)
        assert serving.metrics.finished["abort"] == 1 and serving.metrics.running == 0


async def test_n_choices_and_streamed_continuous_usage(demo: DemoHost) -> None:
    async with running(demo) as (client, _, _):
        body = (
            await client.post("/v1/chat/completions", json={**CHAT, "n": 2, "max_tokens": 30, "temperature": 1.0})
        ).json()
        assert [c["index"] for c in body["choices"]] == [0, 1]
        assert body["choices"][0]["message"]["content"] != body["choices"][1]["message"]["content"]
        request = {
            **CHAT,
            "max_tokens": 4,
            "stream": True,
            "stream_options": {"continuous_usage_stats": True},
        }
        async with client.stream("POST", "/v1/chat/completions", json=request) as reply:
            events = [line async for line in reply.aiter_lines() if line.startswith("data: {")]
        completion_counts = [int(m.group(1)) for e in events if (m := re.search(r'"completion_tokens":(\d+)', e))]
        assert completion_counts == [0, 1, 2, 3, 4]


async def test_malformed_requests_get_uvicorns_400(demo: DemoHost) -> None:
    async with running(demo) as (client, _, warnings):
        port = int(str(client.base_url).rsplit(":", 1)[1].rstrip("/"))
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"THIS IS NOT HTTP\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
        assert answer.endswith(b"Invalid HTTP request received.")
        assert warnings == ["Invalid HTTP request received."]


async def test_expect_100_continue_and_head(demo: DemoHost) -> None:
    async with running(demo) as (client, _, _):
        port = int(str(client.base_url).rsplit(":", 1)[1].rstrip("/"))
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        body = b'{"prompt": "hi", "max_tokens": 2}'
        writer.write(
            b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)
        )
        assert await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10) == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(body)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 200 OK")
        writer.close()
        head_reply = await client.head("/v1/models")
        assert head_reply.status_code == 200 and head_reply.content == b""
        assert (await client.get("/v1/models")).status_code == 200, "the connection survived the HEAD"


async def test_crash_fault_calls_the_crash_hook_after_part_of_the_stream(demo: DemoHost) -> None:
    def crash() -> None:
        raise CrashedError

    async with running(demo, on_crash=crash) as (client, _, _):
        request = {**CHAT, "max_tokens": 20, "ignore_eos": True, "stream": True}
        lines: list[str] = []
        try:
            async with client.stream(
                "POST", "/v1/chat/completions", json=request, headers={"X-Sim-Fault": "die-midstream"}
            ) as reply:
                async for line in reply.aiter_lines():
                    if line.startswith("data:"):
                        lines.append(line)
        except httpx.RemoteProtocolError:
            pass
        assert 2 <= len(lines) <= 12 and "data: [DONE]" not in lines
