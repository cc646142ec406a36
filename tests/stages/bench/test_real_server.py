"""A small serving benchmark against `transformers serve` (a real server nobody here wrote) of a tiny Qwen2."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.real_server import Served, transformers_serve
from tests.stages.bench.conftest import stage_args
from tui.stages.bench.stage import run_benchmark

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with transformers_serve(tmp_path_factory.mktemp("tserve")) as server:
        yield server


@pytest.mark.parametrize("endpoint", ["completions", "chat"])
async def test_a_small_serve_run_gives_sane_numbers(served: Served, endpoint: str) -> None:
    args = stage_args("serve", "--url", served.url, "--model", str(served.model_dir), "--tokenizer",
                      str(served.model_dir), "--endpoint", endpoint, "--num-prompts", "4", "--random-input-len",
                      "24", "--random-output-len", "8", "--max-concurrency", "2", "--ignore-eos")
    result = await run_benchmark(args, "serve")
    assert result["completed"] == 4 and result["failed"] == 0
    if endpoint == "completions":  # the chat template adds tokens around the prompt
        assert result["total_input_tokens"] == 4 * 24
    assert result["total_output_tokens"] == 4 * 8  # usage.completion_tokens, the tiny model never stops early
    assert 0 < result["mean_ttft_ms"] < result["mean_e2el_ms"] < 60_000
    assert result["mean_tpot_ms"] > 0 and result["mean_itl_ms"] > 0
    assert 0 < result["output_throughput"] < 100_000 and result["max_concurrent_requests"] <= 2
    assert result["output_tokens_estimated"] is False
    # it refuses vLLM's ignore_eos/min_tokens (422), so the run goes without them and says the length was not forced
    assert result["ignore_eos_sent"] is False and result["output_len_forced"] is False
    # transformers serve has no /metrics: said so, not faked
    assert result["server_metrics"]["available"] is False and result["server_metrics"]["generation_tokens"] is None


async def test_latency_against_the_real_server(served: Served) -> None:
    # its /v1/models lists the hub cache, not the model it was started with, so the model is named
    result = await run_benchmark(stage_args("latency", "--url", served.url, "--model", str(served.model_dir),
                                            "--runs", "3", "--max-tokens", "6"), "latency")
    assert result["completed"] == 3 and result["model"]
    assert result["min_latency_ms"] <= result["mean_latency_ms"] <= result["max_latency_ms"]
    assert result["mean_ttft_ms"] is not None and result["mean_tpot_ms"] is not None
