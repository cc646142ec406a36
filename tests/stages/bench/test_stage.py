"""The three modes end to end against real servers on loopback: figures, failures, the result's keys."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from tests.sim.harness import SimServer
from tests.stages.bench.conftest import SET_TPOT_MS, SET_TTFT_MS, stage_args
from tui.sim.openai_api import PREFILL_TOKENS_PER_BASE_TTFT
from tui.sim.serve_args import VLLM_VERSION
from tui.stages.bench.stage import BenchError, run_benchmark
from tui.stages.events import STAGE_DIR_ENV

LATENCY_KEYS = {"runs", "completed", "failed", "mean_latency_ms", "median_latency_ms", "min_latency_ms",
                "max_latency_ms", "std_latency_ms", "mean_ttft_ms", "mean_tpot_ms"}
CONCURRENCY_KEYS = {"requests", "concurrency", "completed", "failed", "success_rate", "duration",
                    "request_throughput", "mean_latency_ms", "min_latency_ms", "max_latency_ms", "p50_latency_ms",
                    "p90_latency_ms", "p99_latency_ms", "failures"}
SERVE_KEYS = {"completed", "failed", "duration", "total_input_tokens", "total_output_tokens", "request_throughput",
              "output_throughput", "total_token_throughput", "max_concurrency"} | {
    f"{stat}_{metric}_ms" for stat in ("mean", "median", "std", "p99", "p50", "p90")
    for metric in ("ttft", "tpot", "itl", "e2el")}
EXTRA_KEYS = {"mode", "label", "url", "model", "started_at", "client_bound", "client_cpu_max_pct",
              "percentile_method", "requests_file", "server_metrics", "warmup_requests", "cold_start",
              "server_requests_before", "burst_replies", "notes"}
SERVE_EXTRA_KEYS = {"request_rate", "burstiness", "num_prompts", "input_len", "output_len", "goodput",
                    "max_output_tokens_per_s", "max_concurrent_requests", "output_len_forced"}
SERVER_KEYS = {"available", "message", "prompt_tokens", "generation_tokens", "requests", "mean_ttft_ms",
               "mean_e2el_ms", "output_throughput"}


def paced(measured: float, set_ms: float) -> bool:
    """A figure the simulator paces: never much below what it was set to, and not far above it.

    Not `approx`: on a busy machine (load average 7-10 on 2 cores) the simulator's sleeps overrun
    and the measured figures read 10-20 % high, which says nothing about the load generator. Below
    the set value would (a client cannot see a token before the server sends it); far above too.
    """
    return 0.8 * set_ms <= measured <= 2.5 * set_ms


def expected_ttft_ms(prompt_tokens: float) -> float:
    """The simulator's TTFT: the base plus a share per prompt token (tui/sim/openai_api.py `_ttft_s`)."""
    return SET_TTFT_MS * (1 + prompt_tokens / PREFILL_TOKENS_PER_BASE_TTFT)


async def test_latency_mode_measures_the_set_ttft_and_tpot(timed_url: str) -> None:
    result = await run_benchmark(stage_args("latency", "--url", timed_url, "--runs", "4", "--max-tokens", "10"),
                                 "latency")
    assert result["completed"] == 4 and result["failed"] == 0
    prompt_tokens = result["server_metrics"]["prompt_tokens"] / 4
    assert paced(result["mean_ttft_ms"], expected_ttft_ms(prompt_tokens))
    assert paced(result["mean_tpot_ms"], SET_TPOT_MS)
    # end-to-end = TTFT + 9 decode steps
    assert result["mean_latency_ms"] == pytest.approx(result["mean_ttft_ms"] + 9 * result["mean_tpot_ms"], rel=0.02)
    assert result["min_latency_ms"] <= result["median_latency_ms"] <= result["max_latency_ms"]


async def test_serve_mode_measures_the_set_ttft_and_tpot(timed_url: str) -> None:
    args = stage_args("serve", "--url", timed_url, "--num-prompts", "6", "--random-input-len", "200",
                      "--random-output-len", "10", "--max-concurrency", "1", "--percentiles", "50,90",
                      "--ignore-eos")
    result = await run_benchmark(args, "serve")
    assert result["completed"] == 6 and result["total_input_tokens"] == 6 * 200
    assert result["total_output_tokens"] == 60 and result["output_len_forced"] is True
    assert paced(result["mean_ttft_ms"], expected_ttft_ms(200))
    assert paced(result["mean_tpot_ms"], SET_TPOT_MS)
    assert paced(result["mean_itl_ms"], SET_TPOT_MS)
    assert result["max_concurrent_requests"] == 1
    server = result["server_metrics"]
    assert server["available"] and server["generation_tokens"] == 60 and server["prompt_tokens"] == 1200
    assert paced(server["mean_ttft_ms"], expected_ttft_ms(200))


async def test_every_contract_key_in_every_mode(instant_url: str, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STAGE_DIR_ENV, str(tmp_path))
    latency = await run_benchmark(stage_args("latency", "--url", instant_url, "--runs", "3", "--label", "x"),
                                  "latency")
    assert not (LATENCY_KEYS | EXTRA_KEYS) - set(latency) and latency["label"] == "x"
    concurrency = await run_benchmark(stage_args("concurrency", "--url", instant_url, "--requests", "12",
                                                 "--concurrency", "4"), "concurrency")
    assert not (CONCURRENCY_KEYS | EXTRA_KEYS) - set(concurrency)
    assert concurrency["success_rate"] == 1.0 and concurrency["failures"] == {}
    assert concurrency["max_concurrent_requests"] <= 4
    serve = await run_benchmark(stage_args("serve", "--url", instant_url, "--num-prompts", "10", "--request-rate",
                                           "200", "--burstiness", "2", "--warmup", "2", "--goodput", "ttft:1000",
                                           "--percentiles", "50,90"), "serve")
    assert not (SERVE_KEYS | EXTRA_KEYS | SERVE_EXTRA_KEYS) - set(serve)
    assert serve["completed"] == 10 and serve["request_goodput"] == pytest.approx(serve["request_throughput"])
    assert serve["request_rate"] == 200 and serve["goodput"] == {"ttft": 1000.0}
    for result in (latency, concurrency, serve):
        assert set(result["server_metrics"]) == SERVER_KEYS and result["server_metrics"]["available"]
        assert result["percentile_method"] == "linear (numpy)" and isinstance(result["client_bound"], bool)
        assert result["server_version"] == VLLM_VERSION  # the sim answers /version as vLLM does
        assert result["client_versions"]["aiohttp"] == aiohttp.__version__
        json.dumps(result, allow_nan=False)  # plain JSON: no NaN or Infinity anywhere
    lines = [json.loads(line) for line in (tmp_path / "requests.jsonl").read_text().splitlines()]
    assert len(lines) == 10 + 2  # the run's requests and its two warmups, marked as such
    assert sum(line["warmup"] for line in lines) == 2
    # the server's figures cover the measured requests only: its counters are read again after the warm-up
    assert serve["server_metrics"]["requests"] == 10 and serve["warmup_requests"] == 2


async def test_requests_the_server_fails_are_counted_not_fatal(instant_url: str) -> None:
    args = stage_args("concurrency", "--url", instant_url, "--requests", "6", "--concurrency", "3",
                      "--header", "X-Sim-Fault:error-500")
    with pytest.raises(BenchError) as caught:
        await run_benchmark(args, "concurrency")
    assert caught.value.exit_code == 1
    assert str(caught.value).startswith("no request succeeded (6 × HTTP 500)")
    assert caught.value.result is not None
    assert caught.value.result["failed"] == 6 and caught.value.result["failures"] == {"HTTP 500": 6}
    assert caught.value.result["mean_latency_ms"] is None


async def test_partial_failures_complete_with_their_reasons(scripted_server: str) -> None:
    result = await run_benchmark(stage_args("concurrency", "--url", scripted_server, "--requests", "6",
                                            "--concurrency", "2"), "concurrency")
    assert result["completed"] == 3 and result["failed"] == 3 and result["success_rate"] == 0.5
    assert result["failures"] == {"HTTP 503": 3}
    assert result["server_metrics"]["available"] is False and "metrics" in result["server_metrics"]["message"]


async def test_a_server_dying_mid_stream_is_counted(own_bench_sim: Callable[[], SimServer]) -> None:
    server = own_bench_sim()
    args = stage_args("concurrency", "--url", server.url, "--requests", "6", "--concurrency", "2",
                      "--max-tokens", "200", "--header", "X-Sim-Fault:die-midstream")
    with pytest.raises(BenchError) as caught:
        await run_benchmark(args, "concurrency")
    result = caught.value.result
    assert result is not None and result["failed"] == 6
    assert "disconnected mid-stream" in result["failures"]
    assert set(result["failures"]) <= {"disconnected mid-stream", "connection refused", "connection reset",
                                      "disconnected before answering"}
    assert result["server_metrics"]["available"] is False


async def test_worker_processes_share_the_run(instant_url: str, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STAGE_DIR_ENV, str(tmp_path))
    result = await run_benchmark(stage_args("serve", "--url", instant_url, "--num-prompts", "30", "--workers", "2",
                                            "--random-input-len", "16", "--random-output-len", "8"), "serve")
    assert result["workers"] == 2 and result["completed"] == 30 and result["total_output_tokens"] == 240
    indices = sorted(json.loads(line)["index"] for line in (tmp_path / "requests.jsonl").read_text().splitlines())
    assert indices == list(range(30))


async def test_a_dead_server_is_one_sentence() -> None:
    with pytest.raises(BenchError, match=r"nothing answers at http://127\.0\.0\.1:9; is the server up\?"):
        await run_benchmark(stage_args("latency", "--url", "http://127.0.0.1:9"), "latency")
