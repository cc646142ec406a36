"""How a benchmark looks: the live line while it runs, its result table, and a comparison of two results.

Pure renderables from the values the benchmark stage emits (progress events
with live figures, the result object of CONTRACTS.md, and the comparison rows
of `tui.stages.bench.compare`), so the Stages area, the runs picker and the
tests draw them the same way. Nothing here reads a file or the network.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tui.formatting import or_na
from widgets.sparkline_text import sparkline

BENCH_MODES = ("latency", "concurrency", "serve")
SERVE_METRICS = (("ttft", "TTFT"), ("tpot", "TPOT"), ("itl", "ITL"), ("e2el", "E2EL"))


def is_bench_result(result: Mapping[str, Any]) -> bool:
    """True for a result object of the benchmark stage (any of its three modes)."""
    return result.get("mode") in BENCH_MODES


def is_comparison(result: Mapping[str, Any]) -> bool:
    """True for the comparison of two benchmark results (`rows` of metric, a, b, delta)."""
    rows = result.get("rows")
    return isinstance(rows, list) and "a" in result and "b" in result


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def fmt(value: Any, digits: int = 1, unit: str = "") -> str:
    """A figure for a cell: `N/A` when it was not measured (never 0), thousands separated."""
    number = _number(value)
    if number is None:
        return "N/A"
    if isinstance(value, int):  # a count: 8 requests, not 8.00
        return f"{value:,} {unit}".rstrip()
    whole = float(number).is_integer() and abs(number) >= 1000
    text = f"{number:,.0f}" if whole else f"{number:,.{digits}f}"
    return f"{text} {unit}".rstrip()


def bench_live(extra: Mapping[str, Any], done: float, total: float | None,
               ttft_p50_history: Sequence[float | None], width: int = 24) -> Text:
    """The running benchmark in two lines: counts and rates, then TTFT with its trend and the client's CPU."""
    line = Text()
    line.append(f"{done:g}" + (f"/{total:g}" if total else ""), style="bold")
    line.append(" requests")
    failed = _number(extra.get("failed"))
    if failed:
        line.append(f" · {failed:g} failed", style="bold red")
    in_flight = _number(extra.get("in_flight"))
    if in_flight is not None:
        line.append(f" · {in_flight:g} in flight")
    line.append(f" · {fmt(extra.get('req_s'), 2)} req/s · {fmt(extra.get('tok_s'), 0)} tok/s")
    line.append("\nTTFT p50 ")
    line.append(fmt(extra.get("ttft_p50_ms"), 1, "ms"), style="bold")
    line.append(f" · p99 {fmt(extra.get('ttft_p99_ms'), 1, 'ms')} ")
    line.append(sparkline(list(ttft_p50_history), width), style="cyan")
    cpu = _number(extra.get("client_cpu_pct"))
    if cpu is not None:
        line.append(" · client CPU ")
        line.append(f"{cpu:.0f}%", style="bold red" if cpu >= 90 else "yellow" if cpu >= 50 else "")
    return line


def _stat_table(title: str) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold", box=None, padding=(0, 1),
                  show_edge=False)
    return table


def figure(value: Any) -> str:
    """A latency for a narrow column: two decimals under 100, one under 1,000, none above (327.1, 1,104)."""
    number = _number(value)
    if number is None:
        return "N/A"
    return fmt(value, 2 if abs(number) < 100 else 1 if abs(number) < 1000 else 0)


def _serve_table(result: Mapping[str, Any]) -> Table:
    """Statistics as rows (mean, std, every percentile; the median is p50 when both exist), TTFT/TPOT/ITL/E2EL
    as columns: five narrow columns that size to their numbers, so no figure is ever cut off."""
    percentiles = sorted({key.split("_", 1)[0] for key in result
                          if key.startswith("p") and key.endswith("_ttft_ms") and key[1:].split("_")[0]
                          .replace(".", "", 1).isdigit()},
                         key=lambda p: float(p[1:]))
    stats = ["mean", "std", *percentiles] if "p50" in percentiles else ["mean", "median", "std", *percentiles]
    table = _stat_table("Latency (ms)")
    table.add_column("", style="bold", no_wrap=True)
    columns = [[figure(result.get(f"{stat}_{key}_ms")) for stat in stats] for key, _ in SERVE_METRICS]
    for (_, label), cells in zip(SERVE_METRICS, columns, strict=True):
        table.add_column(label, justify="right", no_wrap=True, min_width=max(len(label), *map(len, cells)))
    for index, stat in enumerate(stats):
        table.add_row(stat, *(cells[index] for cells in columns))
    return table


def _summary_rows(result: Mapping[str, Any]) -> list[tuple[str, str]]:
    mode = result.get("mode")
    rows: list[tuple[str, str]] = []
    completed, failed = result.get("completed"), result.get("failed")
    rows.append(("requests", f"{fmt(completed, 0)} completed · {fmt(failed, 0)} failed"))
    if mode == "latency":
        rows += [
            ("latency", f"mean {fmt(result.get('mean_latency_ms'), 1, 'ms')} · "
                        f"p50 {fmt(result.get('median_latency_ms'), 1, 'ms')} · "
                        f"min {fmt(result.get('min_latency_ms'), 1)} · max {fmt(result.get('max_latency_ms'), 1)} · "
                        f"std {fmt(result.get('std_latency_ms'), 1)}"),
            ("TTFT · TPOT", f"{fmt(result.get('mean_ttft_ms'), 1, 'ms')} · {fmt(result.get('mean_tpot_ms'), 2, 'ms')}"),
        ]
    elif mode == "concurrency":
        rate = _number(result.get("success_rate"))
        rows += [
            ("load", f"{fmt(result.get('requests'), 0)} requests, {fmt(result.get('concurrency'), 0)} in flight"),
            ("success rate", or_na(None if rate is None else rate * 100, ".1f", "%")),
            ("QPS", f"{fmt(result.get('request_throughput'), 2)} req/s over {fmt(result.get('duration'), 2, 's')}"),
            ("latency", f"mean {fmt(result.get('mean_latency_ms'), 1, 'ms')} · "
                        f"p50 {fmt(result.get('p50_latency_ms'), 1)} · p90 {fmt(result.get('p90_latency_ms'), 1)} · "
                        f"p99 {fmt(result.get('p99_latency_ms'), 1)} · min {fmt(result.get('min_latency_ms'), 1)} · "
                        f"max {fmt(result.get('max_latency_ms'), 1)}"),
        ]
    else:
        rate = result.get("request_rate")
        limit = result.get("max_concurrency")
        rows += [
            ("load", f"{fmt(result.get('num_prompts'), 0)} prompts · {fmt(result.get('input_len'), 0)} in / "
                     f"{fmt(result.get('output_len'), 0)} out · rate {rate if rate is not None else 'N/A'}"
                     f" · {'at most ' + fmt(limit, 0) if limit is not None else 'unlimited'} in flight"
                     f" · peak {fmt(result.get('max_concurrent_requests'), 0)}"),
            ("duration", fmt(result.get("duration"), 2, "s")),
            ("throughput", f"{fmt(result.get('request_throughput'), 2)} req/s · "
                           f"{fmt(result.get('output_throughput'), 1)} output tok/s · "
                           f"{fmt(result.get('total_token_throughput'), 1)} total tok/s"),
            ("peak output", _peak_output(result)),
        ]
        if result.get("goodput") is not None:
            rows.append(("goodput", fmt(result.get("goodput"), 2, "req/s")))
        if result.get("output_len_forced") is False:
            rows.append(("note", "the server did not force the output length (ignore_eos/min_tokens)"))
    return rows


def _peak_output(result: Mapping[str, Any]) -> str:
    """vLLM's peak output rate is the busiest whole second: on a run shorter than that it reads low."""
    peak = fmt(result.get("max_output_tokens_per_s"), 1, "tok/s")
    duration = _number(result.get("duration"))
    if duration is not None and duration < 2.0:
        return f"{peak} (vLLM counts whole seconds; this run lasted {duration:.2f} s, so it reads low)"
    return peak


def _server_side(result: Mapping[str, Any]) -> Text | None:
    """The server's own /metrics figures beside the client's, or why there are none."""
    server = result.get("server_metrics")
    if not isinstance(server, Mapping):
        return None
    text = Text("Server's /metrics: ", style="bold")
    if not server.get("available"):
        text.append(str(server.get("message") or "not available"), style="dim")
        return text
    client_out = result.get("total_output_tokens")
    text.append(f"{fmt(server.get('generation_tokens'), 0)} generated tokens")
    if client_out is not None:
        text.append(f" (client counted {fmt(client_out, 0)})", style="dim")
    text.append(f" · {fmt(server.get('prompt_tokens'), 0)} prompt tokens · {fmt(server.get('requests'), 0)} requests")
    text.append(f" · TTFT mean {fmt(server.get('mean_ttft_ms'), 1, 'ms')}")
    text.append(f" · E2EL mean {fmt(server.get('mean_e2el_ms'), 1, 'ms')}")
    if server.get("output_throughput") is not None:
        text.append(f" · {fmt(server.get('output_throughput'), 1)} tok/s")
    return text


def bench_result(result: Mapping[str, Any]) -> RenderableType:
    """A benchmark result: summary, latency statistics, failures, the server's cross-check, client health."""
    parts: list[RenderableType] = []
    title = Text(f"{result.get('mode')} benchmark", style="bold")
    if result.get("label"):
        title.append(f" · {result.get('label')}", style="cyan")
    if result.get("model"):
        title.append(f" · {result.get('model')}", style="dim")
    if result.get("server_version"):
        title.append(f" · server {result.get('server_version')}", style="dim")
    parts.append(title)
    summary = Table.grid(padding=(0, 1))
    summary.add_column(style="bold", no_wrap=True)
    summary.add_column(overflow="fold")
    for key, value in _summary_rows(result):
        summary.add_row(key, value)
    parts.append(summary)
    if result.get("mode") == "serve":
        parts.append(_serve_table(result))
    failures = result.get("failures")
    if isinstance(failures, Mapping) and failures:
        text = Text("Failures: ", style="bold red")
        text.append(" · ".join(f"{reason} × {count}" for reason, count in failures.items()))
        parts.append(text)
    server = _server_side(result)
    if server is not None:
        parts.append(server)
    if result.get("client_bound"):
        parts.append(Text(f"Client-bound: the load generator used {fmt(result.get('client_cpu_max_pct'), 0)}% of "
                          "a core, so these numbers understate the server; use more workers (--workers).",
                          style="bold yellow"))
    return Group(*parts)


def _setting(value: Any) -> str:
    """A setting's value as an operator reads it (a result that lacks it says so, never `None`)."""
    return "not recorded" if value is None else str(value)


def comparison_table(comparison: Mapping[str, Any]) -> Table:
    """Two results side by side with the change in percent, green where B is better and red where worse."""
    label_a, label_b = str(comparison.get("a")), str(comparison.get("b"))
    title = Text(f"{label_a} → {label_b}", style="bold")
    differ = [item for item in comparison.get("settings_differ") or [] if isinstance(item, Mapping)]
    if differ:  # above the numbers, where it is read first, not in a caption below the fold
        title.append("\nNot like for like: " + " · ".join(
            f"{item.get('setting')} {_setting(item.get('a'))} → {_setting(item.get('b'))}" for item in differ),
            style="bold yellow")
    head_a, head_b = ("A", "B") if label_a == label_b else (label_a[:24], label_b[:24])
    rows = [row for row in comparison.get("rows") or [] if isinstance(row, Mapping)]
    cells_a = [figure(row.get("a")) for row in rows]
    cells_b = [figure(row.get("b")) for row in rows]
    table = Table(title=title, title_justify="left", box=None, padding=(0, 1), show_edge=False)
    table.add_column("metric", style="bold", overflow="fold")  # the names wrap; the numbers never do
    table.add_column(head_a, justify="right", no_wrap=True, min_width=max([len(head_a), *map(len, cells_a)]))
    table.add_column(head_b, justify="right", no_wrap=True, min_width=max([len(head_b), *map(len, cells_b)]))
    table.add_column("Δ", justify="right", no_wrap=True, min_width=7)
    for row, cell_a, cell_b in zip(rows, cells_a, cells_b, strict=True):
        delta = _number(row.get("delta_pct"))
        better = row.get("better")
        style = "green" if better == "b" else "red" if better == "a" else ""
        delta_text = Text(or_na(delta, "+.1f", "%"), style=style)
        table.add_row(str(row.get("metric", "")).replace("_", " "), cell_a, cell_b, delta_text)
    return table
