"""The benchmark and precision drawings: every figure shown where it belongs, N/A for what was not measured."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console, RenderableType

from widgets.bench_view import bench_live, bench_result, comparison_table, fmt
from widgets.precision_view import precision_result, worst_prompt
from widgets.stages_view import result_view


def plain(renderable: RenderableType, width: int = 160) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None, legacy_windows=False)
    console.print(renderable)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(output, str)
    return output


SERVE: dict[str, Any] = {
    "mode": "serve", "label": "graph", "model": "qwen", "server_version": "0.11.0", "completed": 31, "failed": 1,
    "duration": 8.25,
    "total_input_tokens": 3968, "total_output_tokens": 3968, "request_throughput": 3.76,
    "output_throughput": 481.0, "total_token_throughput": 962.0, "max_concurrency": None,
    "max_concurrent_requests": 17,
    "num_prompts": 32, "input_len": 128, "output_len": 128, "request_rate": 4.0, "max_output_tokens_per_s": 640.0,
    "goodput": None, "output_len_forced": True, "client_bound": False, "client_cpu_max_pct": 12.0,
    "server_metrics": {"available": True, "message": None, "prompt_tokens": 3968, "generation_tokens": 3968,
                       "requests": 31, "mean_ttft_ms": 40.1, "mean_e2el_ms": 2000.0, "output_throughput": 480.0},
    "failures": {"HTTP 500: boom": 1},
}
for metric, base in (("ttft", 41.0), ("tpot", 15.0), ("itl", 15.1), ("e2el", 1950.0)):
    SERVE.update({f"mean_{metric}_ms": base, f"median_{metric}_ms": base - 1, f"std_{metric}_ms": 2.0,
                  f"p50_{metric}_ms": base - 1, f"p90_{metric}_ms": base + 3, f"p99_{metric}_ms": base + 9})


def test_serve_result_shows_each_metric_with_its_percentiles_and_the_servers_own_counts() -> None:
    text = plain(bench_result(SERVE))
    assert "serve benchmark · graph · qwen · server 0.11.0" in text
    for label in ("TTFT", "TPOT", "ITL", "E2EL"):
        assert label in text
    header = next(line for line in text.splitlines() if "TTFT" in line and "E2EL" in line)
    assert header.split() == ["TTFT", "TPOT", "ITL", "E2EL"]
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines()
            if line.strip().split(" ")[0] in ("mean", "median", "std", "p50", "p90", "p99")}
    assert "median" not in rows, "the median is p50: one row, not two"
    assert rows["mean"] == ["41.00", "15.00", "15.10", "1,950"]
    assert rows["p50"] == ["40.00", "14.00", "14.10", "1,949"] and rows["p99"][0] == "50.00"
    assert "31 completed · 1 failed" in text and "unlimited in flight · peak 17" in text
    assert "3,968 generated tokens (client counted 3,968)" in text
    assert "HTTP 500: boom × 1" in text
    assert "Client-bound" not in text


def test_a_client_bound_run_says_so_and_missing_figures_are_na_not_zero() -> None:
    result = {**SERVE, "client_bound": True, "client_cpu_max_pct": 97.0, "mean_ttft_ms": None,
              "server_metrics": {"available": False, "message": "the server has no /metrics (HTTP 404)"}}
    text = plain(bench_result(result))
    assert "Client-bound: the load generator used 97% of a core" in text
    mean_row = next(line for line in text.splitlines() if line.strip().startswith("mean"))
    assert mean_row.split()[1] == "N/A"
    assert "the server has no /metrics (HTTP 404)" in text
    assert fmt(None) == "N/A" and fmt(0) == "0" and fmt(0.0) == "0.0" and fmt(12345.0, 1) == "12,345"
    assert fmt(12345) == "12,345" and fmt(True) == "N/A"


def test_latency_and_concurrency_results() -> None:
    latency = {"mode": "latency", "runs": 10, "completed": 10, "failed": 0, "mean_latency_ms": 812.5,
               "median_latency_ms": 800.0, "min_latency_ms": 790.0, "max_latency_ms": 900.0, "std_latency_ms": 30.2,
               "mean_ttft_ms": 45.0, "mean_tpot_ms": 15.63}
    text = plain(result_view(latency))
    assert "mean 812.5 ms · p50 800.0 ms · min 790.0 · max 900.0 · std 30.2" in text
    assert "45.0 ms · 15.63 ms" in text
    concurrency = {"mode": "concurrency", "requests": 50, "concurrency": 10, "completed": 48, "failed": 2,
                   "success_rate": 0.96, "duration": 4.0, "request_throughput": 12.0, "mean_latency_ms": 800.0,
                   "min_latency_ms": 700.0, "max_latency_ms": 1200.0, "p50_latency_ms": 790.0,
                   "p90_latency_ms": 1000.0, "p99_latency_ms": 1190.0, "failures": {"timeout": 2}}
    text = plain(result_view(concurrency))
    assert "96.0%" in text and "12.00 req/s over 4.00 s" in text and "timeout × 2" in text


def test_live_line_carries_rates_ttft_trend_and_client_cpu() -> None:
    extra = {"req_s": 3.9, "tok_s": 480.0, "ttft_p50_ms": 41.0, "ttft_p99_ms": 60.0, "failed": 1, "in_flight": 8,
             "client_cpu_pct": 95.0}
    text = bench_live(extra, 12, 32, [40.0, None, 42.0, 41.0]).plain
    assert text.startswith("12/32 requests · 1 failed · 8 in flight · 3.90 req/s · 480 tok/s")
    assert "TTFT p50 41.0 ms · p99 60.0 ms" in text and "client CPU 95%" in text
    assert any(block in text for block in "▁▂▃▄▅▆▇█")
    early = bench_live({"req_s": None, "ttft_p50_ms": None}, 0, 32, []).plain
    assert "N/A req/s" in early and "TTFT p50 N/A" in early


def test_comparison_colours_by_which_side_is_better() -> None:
    comparison = {"a": "eager", "b": "graph", "rows": [
        {"metric": "mean_ttft_ms", "a": 80.0, "b": 40.0, "delta_pct": -50.0, "better": "b"},
        {"metric": "output_throughput", "a": 500.0, "b": 450.0, "delta_pct": -10.0, "better": "a"},
        {"metric": "failed", "a": 0, "b": 0, "delta_pct": None, "better": None},
    ]}
    table = comparison_table(comparison)
    text = plain(table)
    assert "eager → graph" in text
    assert "mean ttft ms" in text and "-50.0%" in text and "N/A" in text
    delta_cells = list(table.columns[3].cells)
    assert [str(getattr(cell, "style", "")) for cell in delta_cells] == ["green", "red", ""]
    assert plain(result_view(comparison)) == text
    assert "Not like for like" not in text
    uneven = {**comparison, "settings_differ": [{"setting": "num_prompts", "a": 32, "b": 64}]}
    lines = plain(comparison_table(uneven)).splitlines()
    assert lines[1].strip() == "Not like for like: num_prompts 32 → 64", "above the numbers, not below the fold"


def test_numbers_are_never_cut_off_in_a_narrow_stages_pane() -> None:
    """At 120×40 the Stages pane is about 50 columns wide: every figure must be whole."""
    slow = {**SERVE}
    for metric in ("ttft", "tpot", "itl", "e2el"):
        slow.update({f"{stat}_{metric}_ms": 1104.37 for stat in ("mean", "median", "std", "p50", "p90", "p99")})
    text = plain(bench_result(slow), width=48)
    assert "…" not in text
    assert text.count("1,104") == 20, "5 statistics × 4 metrics, whole"
    comparison = {"a": "graph", "b": "graph", "rows": [
        {"metric": "mean_e2el_ms", "a": 367.123, "b": 1104.5, "delta_pct": 200.8, "better": "a"},
        {"metric": "output_throughput", "a": 1104.0, "b": 371.25, "delta_pct": -66.4, "better": "a"}]}
    text = plain(comparison_table(comparison), width=40)
    assert "…" not in text and "367.1" in text and "1,104" in text and "1,105" not in text.replace("1,104", "")
    assert "graph → graph" in text and " A " in text and " B " in text, "identical labels become A and B"


def test_a_sub_second_run_says_why_its_peak_is_below_its_mean() -> None:
    text = plain(bench_result({**SERVE, "duration": 0.35, "max_output_tokens_per_s": 128.0,
                               "output_throughput": 371.0}))
    assert "128.0 tok/s (vLLM counts whole seconds; this run lasted 0.35 s" in text


def test_wide_characters_keep_the_precision_table_in_column() -> None:
    result = {**PRECISION, "prompts": [
        {**PRECISION["prompts"][0], "prompt": "请用一句话介绍一下你自己，以及你能做什么事情"},
        {**PRECISION["prompts"][0], "prompt": "The capital of France is"}]}
    text = plain(precision_result(result))
    rows = [line for line in text.splitlines() if ("请" in line or "The capital" in line) and "1.000" in line]
    from rich.cells import cell_len
    assert len(rows) == 2
    first_number = [cell_len(row[: row.index(" " + str(PRECISION["prompts"][0]["tokens"]) + " ")]) for row in rows]
    assert first_number[0] == first_number[1], "the token counts line up"


def test_a_prompts_fail_under_an_overall_pass_gives_its_reason() -> None:
    failing = {**PRECISION["prompts"][0], "verdict": "FAIL", "reasons": ["top-1 agreement 0.80 < 0.90"]}
    text = plain(precision_result({**PRECISION, "verdict": "PASS", "reasons": [], "prompts": [failing]}))
    assert "FAIL — top-1 agreement 0.80 < 0.90" in text and "judged on all prompts together" in text


PRECISION: dict[str, Any] = {
    "model": "/models/tiny", "mode": "local", "reference": {"device": "cpu", "dtype": "float32"},
    "candidate": {"device": "cpu", "dtype": "bfloat16"}, "verdict": "FAIL",
    "provenance": {"reference_fingerprint": "sha256:0123456789abcdef",
                   "candidate_fingerprint": "sha256:fedcba9876543210",
                   "versions": {"torch": "2.13.0", "transformers": "5.23.0", "torch_npu": None, "cann": None},
                   "device_name": "x86_64"},
    "reasons": ["prompt 2: cosine_min 0.91 < 0.99"], "nan_inf": 0, "csv": "/runs/x/positions.csv",
    "summary": {"top1_agreement": 0.9, "top1_agreement_tie_aware": 0.95, "top5_overlap": 0.96, "cosine_min": 0.91,
                "kl_mean": 0.002, "noise_floor_ratio": 7.5},
    "prompts": [
        {"prompt": "The capital of France is", "tokens": 5, "verdict": "PASS", "top1_agreement": 1.0,
         "top5_overlap": 1.0, "cosine_min": 0.9999, "max_abs_error": 0.01, "relative_error_mean": 0.001,
         "kl_mean": 0.00001, "first_divergent_layer": None,
         "layers": [{"layer": 0, "cosine": 1.0, "relative_error": 0.0}, {"layer": 1, "cosine": 0.9999,
                                                                          "relative_error": 0.002}]},
        {"prompt": "def hello(name):\n    return", "tokens": 7, "verdict": "FAIL", "top1_agreement": 0.71,
         "top5_overlap": 0.9, "cosine_min": 0.91, "max_abs_error": 2.5, "relative_error_mean": 0.3,
         "kl_mean": 0.01, "first_divergent_layer": 1,
         "layers": [{"layer": 0, "cosine": 1.0, "relative_error": 0.0}, {"layer": 1, "cosine": 0.8,
                                                                          "relative_error": 0.6}]},
    ],
}


def test_precision_shows_the_verdict_reasons_prompts_and_the_divergent_layer() -> None:
    text = plain(precision_result(PRECISION))
    assert text.startswith("FAIL  cpu bfloat16 against cpu float32 · noise-floor ratio 7.50")
    assert "prompt 2: cosine_min 0.91 < 0.99" in text
    assert "def hello(name):⏎    return" in text  # a newline in a prompt cannot break the table
    assert worst_prompt(PRECISION) is PRECISION["prompts"][1]
    assert "Layers of “def hello(name):⏎    return”" in text
    assert "0.800000" in text and "Per-position CSV: /runs/x/positions.csv" in text
    assert ("checkpoint sha256:0123456789abcdef · candidate sha256:fedcba9876543210 · torch 2.13.0 · "
            "transformers 5.23.0 · torch_npu N/A · cann N/A · on x86_64") in text
    assert plain(result_view(PRECISION)) == text


def test_api_mode_has_no_layers_and_says_why() -> None:
    api = {**PRECISION, "mode": "api", "verdict": "PASS", "reasons": [], "notes": ["only top-1 is compared"],
           "prompts": [{**PRECISION["prompts"][0], "layers": [], "cosine_min": None, "first_divergent_layer": None}]}
    text = plain(precision_result(api))
    assert text.startswith("PASS") and "(the server's logprobs)" in text
    assert "note: only top-1 is compared" in text
    assert worst_prompt(api) is None
    row = next(line for line in text.splitlines() if line.strip().startswith("The capital"))
    assert "N/A" in row
