"""vLLM's `calculate_metrics` figures on recorded timings, checked against values worked out by hand."""

from __future__ import annotations

import pytest

from tui.stages.bench.metrics import (
    concurrency_metrics,
    latency_metrics,
    peak_concurrency,
    peak_output_tokens_per_s,
    serve_metrics,
)
from tui.stages.bench.records import RequestRecord


def recorded() -> list[RequestRecord]:
    """Three successful requests and one failure, timings in seconds."""
    return [
        # starts at 0, TTFT 0.1, 4 chunks 0.05 apart → latency 0.25; 4 tokens → TPOT (0.25 − 0.1)/3 = 0.05
        RequestRecord(0, prompt_len=10, start=0.0, ttft=0.1, itl=[0.05, 0.05, 0.05], latency=0.25, output_tokens=4,
                      success=True),
        # starts at 0.5, TTFT 0.2, one chunk carrying 3 tokens 0.3 later → TPOT 0.3/2 = 0.15
        RequestRecord(1, prompt_len=20, start=0.5, ttft=0.2, itl=[0.3], latency=0.5, output_tokens=3, success=True),
        # one token only: no TPOT (goodput counts its TPOT as 0)
        RequestRecord(2, prompt_len=30, start=1.2, ttft=0.4, itl=[], latency=0.4, output_tokens=1, success=True),
        RequestRecord(3, prompt_len=40, start=0.1, success=False, reason="HTTP 500", error="the server answered 500"),
    ]


def test_serve_metrics_match_hand_computed_values() -> None:
    result = serve_metrics(recorded(), duration=2.0, percentiles=[50, 90])
    assert result["completed"] == 3 and result["failed"] == 1
    assert result["total_input_tokens"] == 60  # the failed request's prompt is not counted
    assert result["total_output_tokens"] == 8
    assert result["request_throughput"] == 1.5
    assert result["output_throughput"] == 4.0
    assert result["total_token_throughput"] == 34.0
    assert result["request_goodput"] is None
    # TTFT over successful requests: 100, 200, 400 ms
    assert result["mean_ttft_ms"] == pytest.approx(700 / 3)
    assert result["median_ttft_ms"] == pytest.approx(200)
    assert result["p90_ttft_ms"] == pytest.approx(360)  # rank 1.8 → 200 + 0.8 × 200
    assert result["p99_ttft_ms"] == pytest.approx(396)  # 99 is always there
    assert result["std_ttft_ms"] == pytest.approx(124.72191289246472)
    # TPOT only where more than one token: 50 and 150 ms
    assert result["mean_tpot_ms"] == pytest.approx(100)
    assert result["median_tpot_ms"] == pytest.approx(100)
    assert result["std_tpot_ms"] == pytest.approx(50)
    # ITL pooled over every chunk: 50, 50, 50, 300 ms
    assert result["mean_itl_ms"] == pytest.approx(112.5)
    assert result["median_itl_ms"] == pytest.approx(50)
    assert result["p99_itl_ms"] == pytest.approx(292.5)  # rank 2.97 → 50 + 0.97 × 250
    assert result["mean_e2el_ms"] == pytest.approx((250 + 500 + 400) / 3)
    assert result["failures"] == {"HTTP 500": 1}


def test_goodput_counts_requests_within_every_slo() -> None:
    # TTFT ≤ 250 ms keeps requests 0 and 1; TPOT ≤ 100 ms then drops request 1 (150 ms); request 2 fails TTFT.
    result = serve_metrics(recorded(), duration=2.0, goodput={"ttft": 250, "tpot": 100})
    assert result["request_goodput"] == 0.5
    # a 1-token request has TPOT 0 for goodput, so only TTFT can fail it
    assert serve_metrics(recorded(), duration=2.0, goodput={"tpot": 1})["request_goodput"] == 0.5


def test_peak_concurrency_and_peak_tokens_per_second() -> None:
    records = [record for record in recorded() if record.success]
    # [0, 0.25), [0.5, 1.0), [1.2, 1.6): never two at once
    assert peak_concurrency(records) == 1
    overlapping = [*records, RequestRecord(9, start=0.2, ttft=0.01, latency=0.5, itl=[0.1], success=True)]
    assert peak_concurrency(overlapping) == 2
    # token chunks: request 0 at 0.1, 0.15, 0.2, 0.25 (second 0); request 1 at 0.7 (second 0) and 1.0 (second 1);
    # request 2 at 1.6 (second 1) → the busiest second holds 5 chunks
    assert peak_output_tokens_per_s(records) == 5.0
    assert peak_output_tokens_per_s([]) is None


def test_back_to_back_requests_do_not_overlap() -> None:
    records = [RequestRecord(0, start=0.0, latency=1.0, ttft=0.5, success=True),
               RequestRecord(1, start=1.0, latency=1.0, ttft=0.5, success=True)]
    assert peak_concurrency(records) == 1


def test_nothing_succeeded_gives_none_not_zero() -> None:
    failed = [RequestRecord(0, success=False, reason="connection refused")]
    result = serve_metrics(failed, duration=1.0)
    assert result["completed"] == 0 and result["mean_ttft_ms"] is None and result["p99_e2el_ms"] is None
    assert result["max_concurrent_requests"] is None and result["max_output_tokens_per_s"] is None


def test_latency_and_concurrency_keys() -> None:
    latency = latency_metrics(recorded())
    assert latency["runs"] == 4 and latency["completed"] == 3 and latency["failed"] == 1
    assert latency["min_latency_ms"] == pytest.approx(250) and latency["max_latency_ms"] == pytest.approx(500)
    assert latency["median_latency_ms"] == pytest.approx(400)
    assert latency["mean_tpot_ms"] == pytest.approx(100)
    load = concurrency_metrics(recorded(), duration=2.0, concurrency=2)
    assert load["success_rate"] == 0.75 and load["request_throughput"] == 1.5
    assert load["p50_latency_ms"] == pytest.approx(400) and load["failures"] == {"HTTP 500": 1}
