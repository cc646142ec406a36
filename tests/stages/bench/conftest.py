"""Servers for the benchmark tests: the simulated vLLM (instant, or with set latencies) and a scripted one.

The simulated servers are real processes on loopback (tests/sim/harness.py), shared per module and
killed as a group in teardown. `scripted_server` is an aiohttp app in the test's own event loop for
the cases the simulator cannot play (every other request failing).
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path

import pytest
from aiohttp import web

from tests.sim.harness import SimServer
from tui.sim.demo import DEFAULT_MODEL, DemoHost, prepare_demo_host
from tui.stages.bench.__main__ import build_parser

SET_TTFT_MS = 100.0
SET_TPOT_MS = 20.0


@pytest.fixture(scope="module")
def bench_demo(tmp_path_factory: pytest.TempPathFactory) -> DemoHost:
    return prepare_demo_host(tmp_path_factory.mktemp("bench-sim"))


def _start(demo: DemoHost, log: Path, env: Mapping[str, str] | None = None) -> SimServer:
    return SimServer(demo, log).start(DEFAULT_MODEL, env=env).wait_ready()


@pytest.fixture(scope="module")
def instant_url(bench_demo: DemoHost, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A shared simulated server that answers at once."""
    server = _start(bench_demo, tmp_path_factory.mktemp("sim-log") / "instant.log")
    yield server.url
    server.kill()


@pytest.fixture(scope="module")
def timed_url(bench_demo: DemoHost, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A shared simulated server with a known TTFT base and TPOT."""
    env = {"NPU_CONSOLE_SIM_TTFT_MS": str(SET_TTFT_MS), "NPU_CONSOLE_SIM_TPOT_MS": str(SET_TPOT_MS)}
    server = _start(bench_demo, tmp_path_factory.mktemp("sim-log") / "timed.log", env)
    yield server.url
    server.kill()


@pytest.fixture
def own_bench_sim(bench_demo: DemoHost, tmp_path: Path) -> Iterator[Callable[[], SimServer]]:
    """A simulated server for this test alone (one that a test crashes)."""
    servers: list[SimServer] = []

    def start() -> SimServer:
        servers.append(_start(bench_demo, tmp_path / f"server-{len(servers)}.log"))
        return servers[-1]

    yield start
    for server in servers:
        server.kill()


def stage_args(*argv: str) -> argparse.Namespace:
    """Options parsed exactly as `python -m tui.stages.bench` parses them."""
    return build_parser().parse_args(list(argv))


def sse(payloads: list[str]) -> bytes:
    return b"".join(b"data: " + payload.encode() + b"\n\n" for payload in payloads) + b"data: [DONE]\n\n"


@pytest.fixture
async def scripted_server() -> AsyncIterator[str]:
    """An OpenAI-shaped server in this loop: odd-numbered requests fail with 503, the others stream 3 tokens."""
    count = {"n": 0}

    async def models(_: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "scripted", "root": "scripted"}]})

    async def chat(request: web.Request) -> web.StreamResponse:
        count["n"] += 1
        if count["n"] % 2 == 0:
            return web.json_response({"error": {"message": "overloaded, try later", "code": 503}}, status=503)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        chunks = ['{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}']
        chunks += ['{"choices":[{"index":0,"delta":{"content":"tok"}}]}'] * 3
        chunks += ['{"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}']
        await response.write(sse(chunks))
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/chat/completions", chat)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


def served_model(url: str) -> str:
    """The first model id the server lists."""
    import httpx

    return str(httpx.get(f"{url}/v1/models", timeout=5).json()["data"][0]["id"])
