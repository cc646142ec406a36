"""Reading Prometheus text exposition, and reducing a vLLM page to `ServingMetrics`."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tui.server.serving_metrics import (
    ExpositionError,
    ServingMetrics,
    parse_exposition,
    parse_sample_line,
)

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def test_a_plain_sample() -> None:
    sample = parse_sample_line('vllm:num_requests_running{engine="0",model_name="qwen"} 3.0')
    assert sample.name == "vllm:num_requests_running"
    assert sample.labels == (("engine", "0"), ("model_name", "qwen"))
    assert sample.value == 3.0 and sample.timestamp_ms is None
    assert sample.label("model_name") == "qwen" and sample.label("nope") is None


def test_no_labels_and_a_timestamp() -> None:
    sample = parse_sample_line("process_open_fds 17 1746775525000")
    assert sample.labels == () and sample.value == 17 and sample.timestamp_ms == 1746775525000


@pytest.mark.parametrize(
    ("text", "expected"),
    [("NaN", math.nan), ("+Inf", math.inf), ("-Inf", -math.inf), ("Inf", math.inf), ("1e3", 1000.0), ("-0.5", -0.5)],
)
def test_special_values(text: str, expected: float) -> None:
    value = parse_sample_line(f"x {text}").value
    assert (math.isnan(value) and math.isnan(expected)) or value == expected


def test_escaped_label_values_keep_quotes_commas_braces_and_newlines() -> None:
    sample = parse_sample_line(r'm{a="say \"hi\", {now}",b="back\\slash",c="two\nlines",} 1')
    assert dict(sample.labels) == {"a": 'say "hi", {now}', "b": "back\\slash", "c": "two\nlines"}


def test_an_openmetrics_exemplar_is_ignored() -> None:
    sample = parse_sample_line('m_bucket{le="0.5"} 7 # {trace_id="abc"} 0.3 1.7e9')
    assert sample.value == 7 and sample.timestamp_ms is None


@pytest.mark.parametrize(
    "line",
    ["", "9starts_with_digit 1", 'm{a="unterminated} 1', "m{a=1} 1", "m", "m one", "m 1 2 3", 'm{a="x" b="y"} 1'],
)
def test_malformed_sample_lines_raise(line: str) -> None:
    with pytest.raises(ExpositionError):
        parse_sample_line(line)


def test_a_page_keeps_types_and_help_and_counts_what_it_skipped() -> None:
    page = parse_exposition(fixture("vllm_dp2_two_models.prom"))
    assert page.skipped == 2
    assert page.types["vllm:time_to_first_token_seconds"] == "histogram"
    assert page.types["vllm:prompt_tokens_total"] == "counter"
    assert page.helps["vllm:kv_cache_usage_perc"] == "KV-cache usage. 1 means 100 percent usage."
    spaced = [s for s in page.named("vllm:time_to_first_token_seconds_bucket") if s.label("le") == "+Inf"]
    assert [s.value for s in spaced] == [13.0, 20.0, 7.0]
    assert [s.value for s in page.named("vllm:spec_decode_odd_gauge")] == [math.inf, -math.inf]
    assert page.named("vllm:num_requests_running")[1].timestamp_ms == 1746775525000


def test_several_engines_and_models_are_summed() -> None:
    metrics = ServingMetrics.from_text(fixture("vllm_dp2_two_models.prom"))
    deepseek = 'deepseek "r1", distilled {8b}\n'
    assert metrics == ServingMetrics(
        running=9,
        waiting=7,  # the NaN engine is left out, not counted as 0 and not poisoning the sum
        kv_cache_usage=pytest.approx(0.5),  # type: ignore[arg-type]
        kv_cache_usage_max=0.9,
        prompt_tokens_total=3500,
        generation_tokens_total=9000,
        request_success_total=40,  # every finished_reason and engine
        preemptions_total=None,  # not exported: unknown, not 0
        prefix_cache_queries_total=4000,
        prefix_cache_hits_total=2000,
        ttft_sum=pytest.approx(7.2),  # type: ignore[arg-type]
        ttft_count=40,
        e2e_sum=80.0,
        e2e_count=40,
        model_names=("qwen3-32b", deepseek),
        engines=2,
    )
    assert metrics.e2e_mean == 2.0 and metrics.ttft_mean == pytest.approx(0.18)


def test_the_current_kv_cache_name_wins_over_the_deprecated_one() -> None:
    """vLLM 0.9–0.10 exported both; their values differ in the fixture, and 0.25 must not leak in."""
    metrics = ServingMetrics.from_text(fixture("vllm_dp2_two_models.prom"))
    assert metrics.kv_cache_usage == pytest.approx(0.5) and metrics.kv_cache_usage_max == 0.9


def test_an_older_vllm_with_gpu_cache_usage_perc() -> None:
    metrics = ServingMetrics.from_text(fixture("vllm_v0_gpu_cache.prom"))
    assert metrics.kv_cache_usage == 0.4375 == metrics.kv_cache_usage_max  # a fraction, not a percent
    assert (metrics.running, metrics.waiting) == (4, 2)
    assert metrics.prompt_tokens_total == 125430 and metrics.generation_tokens_total == 88211
    assert metrics.request_success_total == 245, "stop + length; the _created companion is not a count"
    assert metrics.preemptions_total == 3
    assert metrics.ttft_count == 245 and metrics.ttft_sum == 61.25
    assert metrics.e2e_mean == 8.0
    assert metrics.prefix_cache_queries_total is None and metrics.prefix_cache_hits_total is None
    assert metrics.model_names == ("Qwen/Qwen2.5-7B-Instruct",) and metrics.engines == 0


def test_older_prefix_cache_counter_names_are_read() -> None:
    text = (
        'vllm:gpu_prefix_cache_queries_total{engine="0",model_name="m"} 100\n'
        'vllm:gpu_prefix_cache_hits_total{engine="0",model_name="m"} 40\n'
    )
    metrics = ServingMetrics.from_text(text)
    assert (metrics.prefix_cache_queries_total, metrics.prefix_cache_hits_total) == (100, 40)


def test_missing_metrics_are_none_never_zero() -> None:
    metrics = ServingMetrics.from_text('vllm:num_requests_running{model_name="m"} 0\n')
    assert metrics.running == 0
    for name in (
        "waiting",
        "kv_cache_usage",
        "kv_cache_usage_max",
        "prompt_tokens_total",
        "generation_tokens_total",
        "request_success_total",
        "ttft_sum",
        "ttft_count",
        "e2e_sum",
        "e2e_count",
    ):
        assert getattr(metrics, name) is None, name
    assert metrics.ttft_mean is None and metrics.e2e_mean is None
    empty = ServingMetrics.from_text("")
    assert empty == ServingMetrics() and empty.running is None


def test_a_gauge_that_is_nan_everywhere_is_unknown() -> None:
    metrics = ServingMetrics.from_text('vllm:kv_cache_usage_perc{engine="0"} NaN\nvllm:num_requests_waiting NaN\n')
    assert metrics.kv_cache_usage is None and metrics.waiting is None


def test_serving_metrics_are_frozen() -> None:
    metrics = ServingMetrics(running=1)
    with pytest.raises(AttributeError):
        metrics.running = 2  # type: ignore[misc]
