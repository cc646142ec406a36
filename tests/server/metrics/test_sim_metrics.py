"""The simulated server's real `/metrics`, scraped over loopback around real completion requests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from tests.sim.harness import SimServer
from tui.api.metrics_fetch import fetch_metrics
from tui.server.serving_metrics import MetricsHistory, MetricsRates, ServingMetrics, parse_exposition
from tui.sim.demo import prepare_demo_host

# Small real latencies (not zero) so TTFT and e2e sums move and a streamed request is visibly running.
LATENCIES = {"NPU_CONSOLE_SIM_TTFT_MS": "5", "NPU_CONSOLE_SIM_TPOT_MS": "1"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimServer]:
    folder = tmp_path_factory.mktemp("metrics")
    sim = SimServer(prepare_demo_host(folder / "sim"), folder / "server.log")
    try:
        sim.start(env=LATENCIES).wait_ready()
        yield sim
    finally:
        sim.kill()


async def scrape(client: httpx.AsyncClient, url: str) -> ServingMetrics:
    metrics = await fetch_metrics(client, url)
    assert isinstance(metrics, ServingMetrics), metrics
    return metrics


async def test_the_page_parses_cleanly(server: SimServer) -> None:
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"{server.url}/metrics")).text
    page = parse_exposition(text)
    assert page.skipped == 0
    assert page.types["vllm:time_to_first_token_seconds"] == "histogram"
    assert any(s.label("le") == "+Inf" for s in page.named("vllm:time_to_first_token_seconds_bucket"))
    metrics = ServingMetrics.from_exposition(page)
    assert metrics.model_names and metrics.model_names[0].endswith("Qwen2.5-0.5B-Instruct")
    assert metrics.engines == 1
    assert metrics.kv_cache_usage is not None and 0.0 <= metrics.kv_cache_usage <= 1.0


async def test_counters_and_rates_move_with_real_requests(server: SimServer) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        before = await scrape(client, server.url)
        assert before.running == 0 and before.waiting == 0
        replies = await asyncio.gather(
            *(
                client.post("/v1/completions", json={"prompt": f"Count to {n} on an NPU:", "max_tokens": 8 + n})
                for n in range(3)
            )
        )
        usages = [reply.json()["usage"] for reply in replies]
        after = await scrape(client, f"{server.url}/v1/")  # an OpenAI base URL works too
    assert before.ttft_count is not None and before.e2e_count is not None
    assert before.prompt_tokens_total is not None and before.generation_tokens_total is not None
    assert before.request_success_total is not None

    assert after.prompt_tokens_total == before.prompt_tokens_total + sum(u["prompt_tokens"] for u in usages)
    assert after.generation_tokens_total == before.generation_tokens_total + sum(u["completion_tokens"] for u in usages)
    assert after.request_success_total == before.request_success_total + 3
    assert after.ttft_count == before.ttft_count + 3 and after.e2e_count == before.e2e_count + 3
    assert after.running == 0 and after.waiting == 0

    rates = MetricsRates.between(before, after, 2.0)
    assert not rates.restarted
    assert rates.requests_per_s == 1.5
    assert rates.prompt_tokens_per_s == sum(u["prompt_tokens"] for u in usages) / 2
    assert rates.generation_tokens_per_s == sum(u["completion_tokens"] for u in usages) / 2
    assert rates.mean_ttft_s is not None and rates.mean_ttft_s >= 0.005
    assert rates.mean_e2e_s is not None and rates.mean_e2e_s >= rates.mean_ttft_s

    history = MetricsHistory(maxlen=10)
    history.add(0.0, before)
    point = history.add(2.0, after)
    assert point.rates == rates


async def test_a_streaming_request_shows_as_running_and_holds_kv_cache(server: SimServer) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        request = {"prompt": "Write a long story about NPUs.", "max_tokens": 300, "ignore_eos": True, "stream": True}
        async with client.stream("POST", "/v1/completions", json=request) as reply:
            lines = reply.aiter_lines()
            assert (await anext(lines)).startswith("data: ")
            during = await scrape(client, server.url)
            async for _ in lines:
                pass
        after = await scrape(client, server.url)
    assert during.running == 1
    assert during.kv_cache_usage is not None and during.kv_cache_usage > 0
    assert after.running == 0 and after.kv_cache_usage == 0
