"""The human summary of a result, laid out like `vllm bench serve`'s "Serving Benchmark Result" block."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

WIDTH = 50
HEADERS = {
    "ttft": "Time to First Token",
    "tpot": "Time per Output Token (excl. 1st token)",
    "itl": "Inter-token Latency",
    "e2el": "End-to-end Latency",
}
TITLES = {"latency": " Latency Benchmark Result ", "concurrency": " Concurrency Benchmark Result ",
          "serve": " Serving Benchmark Result "}


def _value(value: Any) -> str:
    if value is None:
        return "N/A"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _line(label: str, value: Any) -> str:
    return f"{label:<40} {_value(value):<10}"


def _server_lines(result: Mapping[str, Any]) -> list[str]:
    server = result.get("server_metrics") or {}
    lines = [f"{' Server /metrics ':-^{WIDTH}}"]
    if not server.get("available"):
        lines.append(f"not available: {server.get('message') or 'no scrape'}")
        return lines
    lines += [
        _line("Server prompt tokens:", server.get("prompt_tokens")),
        _line("Server generated tokens:", server.get("generation_tokens")),
        _line("Server finished requests:", server.get("requests")),
        _line("Server output throughput (tok/s):", server.get("output_throughput")),
        _line("Server mean TTFT (ms):", server.get("mean_ttft_ms")),
        _line("Server mean E2EL (ms):", server.get("mean_e2el_ms")),
    ]
    return lines


def format_summary(result: Mapping[str, Any]) -> str:
    """The result as the lines an operator reads (None shows as N/A)."""
    mode = str(result.get("mode", "serve"))
    lines = [f"{TITLES.get(mode, ' Benchmark Result '):=^{WIDTH}}"]
    if result.get("label"):
        lines.append(_line("Label:", result["label"]))
    if result.get("server_version"):
        lines.append(_line("Server version:", result["server_version"]))
    if mode == "latency":
        lines += [_line("Runs:", result.get("runs")), _line("Successful requests:", result.get("completed")),
                  _line("Failed requests:", result.get("failed"))]
        for key, label in (("mean", "Mean"), ("median", "Median (p50)"), ("min", "Min"), ("max", "Max"),
                           ("std", "Std")):
            lines.append(_line(f"{label} latency (ms):", result.get(f"{key}_latency_ms")))
        lines += [_line("Mean TTFT (ms):", result.get("mean_ttft_ms")),
                  _line("Mean TPOT (ms):", result.get("mean_tpot_ms"))]
    elif mode == "concurrency":
        rate = result.get("success_rate")
        lines += [_line("Requests:", result.get("requests")), _line("Concurrency:", result.get("concurrency")),
                  _line("Successful requests:", result.get("completed")),
                  _line("Failed requests:", result.get("failed")),
                  _line("Success rate (%):", None if rate is None else rate * 100),
                  _line("Benchmark duration (s):", result.get("duration")),
                  _line("Request throughput (req/s):", result.get("request_throughput"))]
        for key in ("mean", "min", "max", "p50", "p90", "p99"):
            lines.append(_line(f"{key.capitalize() if key in ('mean', 'min', 'max') else key.upper()} latency (ms):",
                               result.get(f"{key}_latency_ms")))
        lines += [_line("Mean TTFT (ms):", result.get("mean_ttft_ms")),
                  _line("Mean TPOT (ms):", result.get("mean_tpot_ms"))]
    else:
        lines += [_line("Successful requests:", result.get("completed")),
                  _line("Failed requests:", result.get("failed"))]
        if result.get("max_concurrency") is not None:
            lines.append(_line("Maximum request concurrency:", result["max_concurrency"]))
        if isinstance(result.get("request_rate"), (int, float)):
            lines.append(_line("Request rate configured (RPS):", float(result["request_rate"])))
        lines += [_line("Benchmark duration (s):", result.get("duration")),
                  _line("Total input tokens:", result.get("total_input_tokens")),
                  _line("Total generated tokens:", result.get("total_output_tokens")),
                  _line("Request throughput (req/s):", result.get("request_throughput"))]
        if result.get("goodput") is not None:
            lines.append(_line("Request goodput (req/s):", result.get("request_goodput")))
        lines += [_line("Output token throughput (tok/s):", result.get("output_throughput")),
                  _line("Peak output token throughput (tok/s):", result.get("max_output_tokens_per_s")),
                  _line("Peak concurrent requests:", result.get("max_concurrent_requests")),
                  _line("Total token throughput (tok/s):", result.get("total_token_throughput"))]
        for metric, header in HEADERS.items():
            lines.append(f"{header:-^{WIDTH}}")
            lines.append(_line(f"Mean {metric.upper()} (ms):", result.get(f"mean_{metric}_ms")))
            lines.append(_line(f"Median {metric.upper()} (ms):", result.get(f"median_{metric}_ms")))
            prefix, suffix = "p", f"_{metric}_ms"
            for key in result:
                if key.startswith(prefix) and key.endswith(suffix) and key[1].isdigit():
                    lines.append(_line(f"P{key[1:-len(suffix)]} {metric.upper()} (ms):", result[key]))
        if not result.get("output_len_forced", True):
            lines.append("note: the output length was not forced (the server ignored ignore_eos or stopped early)")
    failures = result.get("failures") or {}
    if failures:
        lines.append(f"{' Failures ':-^{WIDTH}}")
        lines += [_line(f"{reason}:", count) for reason, count in failures.items()]
    lines += _server_lines(result)
    cpu = result.get("client_cpu_max_pct")
    lines.append(_line("Client CPU, busiest second (%):", cpu))
    if result.get("client_bound"):
        lines.append("warning: the client was CPU-bound; latencies include client time (try --workers)")
    lines += [f"note: {note}" for note in result.get("notes") or ()]
    lines.append("=" * WIDTH)
    return "\n".join(lines)
