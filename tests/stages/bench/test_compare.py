"""Two results side by side: deltas in percent and which side is better, by the kind of figure."""

from __future__ import annotations

import pytest

from tui.stages.bench.compare import compare_results, direction


def rows_by_metric(comparison: dict[str, object]) -> dict[str, dict[str, object]]:
    rows = comparison["rows"]
    assert isinstance(rows, list)
    return {row["metric"]: row for row in rows}


def test_deltas_and_the_better_side() -> None:
    eager = {"mean_ttft_ms": 100.0, "output_throughput": 1000.0, "completed": 32, "num_prompts": 32,
             "p99_itl_ms": 0.0, "mode": "serve", "label": "eager", "client_bound": False, "goodput": None}
    graph = {"mean_ttft_ms": 80.0, "output_throughput": 1500.0, "completed": 32, "num_prompts": 32,
             "p99_itl_ms": 5.0, "mode": "serve", "label": "graph", "client_bound": True, "goodput": None}
    comparison = compare_results(eager, graph, "eager", "graph")
    assert (comparison["a"], comparison["b"]) == ("eager", "graph")
    rows = rows_by_metric(comparison)
    assert rows["mean_ttft_ms"]["delta_pct"] == pytest.approx(-20.0) and rows["mean_ttft_ms"]["better"] == "b"
    assert rows["output_throughput"]["delta_pct"] == pytest.approx(50.0)
    assert rows["output_throughput"]["better"] == "b"
    assert rows["completed"]["better"] is None and rows["completed"]["delta_pct"] == 0.0
    assert rows["p99_itl_ms"]["delta_pct"] is None and rows["p99_itl_ms"]["better"] == "a"
    assert list(rows) == ["output_throughput", "completed", "mean_ttft_ms", "p99_itl_ms"]  # throughput first
    assert comparison["settings_differ"] == []  # same load on both sides: like for like


def test_settings_are_not_figures_and_differences_are_listed_apart() -> None:
    a = {"mode": "serve", "num_prompts": 32, "input_len": 128, "std_ttft_ms": 0.0, "mean_ttft_ms": 50.0}
    b = {"mode": "serve", "num_prompts": 64, "input_len": 128, "std_ttft_ms": 0.02, "mean_ttft_ms": 55.0}
    comparison = compare_results(a, b, "a", "b")
    assert list(rows_by_metric(comparison)) == ["mean_ttft_ms"]  # no settings, no std rows
    assert comparison["settings_differ"] == [{"setting": "num_prompts", "a": 32, "b": 64}]


def test_a_change_within_run_to_run_noise_names_no_better_side() -> None:
    rows = rows_by_metric(compare_results({"mean_ttft_ms": 100.0, "output_throughput": 1000.0},
                                          {"mean_ttft_ms": 100.5, "output_throughput": 1012.0}, "a", "b"))
    assert rows["mean_ttft_ms"]["delta_pct"] == pytest.approx(0.5) and rows["mean_ttft_ms"]["better"] is None
    assert rows["output_throughput"]["better"] == "b"


def test_a_figure_missing_on_one_side_has_no_delta() -> None:
    rows = rows_by_metric(compare_results({"mean_tpot_ms": 10.0}, {"mean_tpot_ms": None}, "a", "b"))
    assert rows["mean_tpot_ms"] == {"metric": "mean_tpot_ms", "a": 10.0, "b": None, "delta_pct": None,
                                    "better": None}


@pytest.mark.parametrize(("metric", "way"), [("p99_e2el_ms", "lower"), ("mean_latency_ms", "lower"),
                                             ("request_goodput", "higher"), ("success_rate", "higher"),
                                             ("total_token_throughput", "higher"), ("failed", "lower"),
                                             ("input_len", None)])
def test_direction_by_kind(metric: str, way: str | None) -> None:
    assert direction(metric) == way
