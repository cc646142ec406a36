"""Rates between two scrapes, restarts, and the bounded history behind the sparklines."""

from __future__ import annotations

import pytest

from tui.server.serving_metrics import MetricsHistory, MetricsRates, ServingMetrics

BEFORE = """\
# TYPE vllm:prompt_tokens_total counter
vllm:prompt_tokens_total{engine="0",model_name="m"} 1000
vllm:prompt_tokens_total{engine="1",model_name="m"} 1000
# TYPE vllm:generation_tokens_total counter
vllm:generation_tokens_total{engine="0",model_name="m"} 5000
vllm:generation_tokens_total{engine="1",model_name="m"} 5000
vllm:request_success_total{engine="0",finished_reason="stop",model_name="m"} 10
vllm:request_success_total{engine="1",finished_reason="length",model_name="m"} 10
vllm:time_to_first_token_seconds_sum{engine="0",model_name="m"} 2.0
vllm:time_to_first_token_seconds_count{engine="0",model_name="m"} 20
vllm:e2e_request_latency_seconds_sum{engine="0",model_name="m"} 40.0
vllm:e2e_request_latency_seconds_count{engine="0",model_name="m"} 20
vllm:prefix_cache_queries_total{engine="0",model_name="m"} 1000
vllm:prefix_cache_hits_total{engine="0",model_name="m"} 100
"""

AFTER = """\
vllm:prompt_tokens_total{engine="0",model_name="m"} 1500
vllm:prompt_tokens_total{engine="1",model_name="m"} 1500
vllm:generation_tokens_total{engine="0",model_name="m"} 6000
vllm:generation_tokens_total{engine="1",model_name="m"} 7000
vllm:request_success_total{engine="0",finished_reason="stop",model_name="m"} 14
vllm:request_success_total{engine="1",finished_reason="length",model_name="m"} 10
vllm:time_to_first_token_seconds_sum{engine="0",model_name="m"} 3.0
vllm:time_to_first_token_seconds_count{engine="0",model_name="m"} 24
vllm:e2e_request_latency_seconds_sum{engine="0",model_name="m"} 52.0
vllm:e2e_request_latency_seconds_count{engine="0",model_name="m"} 24
vllm:prefix_cache_queries_total{engine="0",model_name="m"} 2000
vllm:prefix_cache_hits_total{engine="0",model_name="m"} 600
"""

AFTER_RESTART = """\
vllm:prompt_tokens_total{engine="0",model_name="m"} 30
vllm:prompt_tokens_total{engine="1",model_name="m"} 0
vllm:generation_tokens_total{engine="0",model_name="m"} 12
vllm:generation_tokens_total{engine="1",model_name="m"} 0
vllm:request_success_total{engine="0",finished_reason="stop",model_name="m"} 1
vllm:time_to_first_token_seconds_sum{engine="0",model_name="m"} 0.1
vllm:time_to_first_token_seconds_count{engine="0",model_name="m"} 1
"""


def test_rates_over_an_interval() -> None:
    rates = MetricsRates.between(ServingMetrics.from_text(BEFORE), ServingMetrics.from_text(AFTER), 2.0)
    assert rates.seconds == 2.0 and not rates.restarted
    assert rates.prompt_tokens_per_s == 500.0  # (3000 - 2000) / 2, both engines
    assert rates.generation_tokens_per_s == 1500.0
    assert rates.requests_per_s == 2.0
    assert rates.mean_ttft_s == pytest.approx(0.25)  # 1.0 s over the 4 requests of the interval, not since start
    assert rates.mean_e2e_s == pytest.approx(3.0)
    assert rates.prefix_cache_hit_rate == pytest.approx(0.5)


def test_an_idle_interval_has_zero_rates_and_no_means() -> None:
    same = ServingMetrics.from_text(AFTER)
    rates = MetricsRates.between(same, same, 1.0)
    assert rates.prompt_tokens_per_s == 0.0 and rates.generation_tokens_per_s == 0.0 and rates.requests_per_s == 0.0
    assert rates.mean_ttft_s is None and rates.mean_e2e_s is None, "no request finished: there is no mean"
    assert rates.prefix_cache_hit_rate is None


def test_counters_that_went_down_mean_a_restart_not_negative_rates() -> None:
    rates = MetricsRates.between(ServingMetrics.from_text(AFTER), ServingMetrics.from_text(AFTER_RESTART), 1.0)
    assert rates.restarted
    for value in (
        rates.prompt_tokens_per_s,
        rates.generation_tokens_per_s,
        rates.requests_per_s,
        rates.mean_ttft_s,
        rates.mean_e2e_s,
        rates.prefix_cache_hit_rate,
    ):
        assert value is None


def test_unknown_counters_give_unknown_rates() -> None:
    only_prompt = ServingMetrics(prompt_tokens_total=10)
    rates = MetricsRates.between(only_prompt, ServingMetrics(prompt_tokens_total=30), 2.0)
    assert rates.prompt_tokens_per_s == 10.0
    assert rates.generation_tokens_per_s is None and rates.requests_per_s is None and rates.mean_ttft_s is None


def test_a_zero_interval_gives_no_rates() -> None:
    rates = MetricsRates.between(ServingMetrics.from_text(BEFORE), ServingMetrics.from_text(AFTER), 0.0)
    assert rates.prompt_tokens_per_s is None and rates.requests_per_s is None
    assert rates.mean_ttft_s == pytest.approx(0.25), "a mean over requests needs no duration"


def test_history_is_bounded_and_carries_rates_against_the_previous_scrape() -> None:
    history = MetricsHistory(maxlen=3)
    assert history.latest is None and len(history) == 0
    first = history.add(10.0, ServingMetrics.from_text(BEFORE))
    assert first.rates is None
    second = history.add(12.0, ServingMetrics.from_text(AFTER))
    assert second.rates is not None and second.rates.generation_tokens_per_s == 1500.0
    history.add(13.0, ServingMetrics.from_text(AFTER_RESTART))
    history.add(14.0, ServingMetrics.from_text(AFTER_RESTART))
    assert len(history) == 3 == history.maxlen
    assert [point.at for point in history] == [12.0, 13.0, 14.0]
    assert history.series(lambda p: p.metrics.prompt_tokens_total) == [3000, 30, 30]
    assert history.rate_series(lambda r: r.generation_tokens_per_s) == [1500.0, None, 0.0]
    assert [p.rates.restarted for p in history if p.rates] == [False, True, False]
    history.clear()
    assert len(history) == 0


def test_a_scrape_at_the_same_instant_has_no_rates() -> None:
    history = MetricsHistory()
    history.add(5.0, ServingMetrics(prompt_tokens_total=1))
    assert history.add(5.0, ServingMetrics(prompt_tokens_total=2)).rates is None


def test_history_needs_room_for_one() -> None:
    with pytest.raises(ValueError):
        MetricsHistory(maxlen=0)
