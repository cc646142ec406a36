"""Beside the log: the facts the log stated, the start-up timeline, the diagnosis, live metrics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tui.formatting import or_na
from tui.server.logfacts.diagnosis import Diagnosis
from tui.server.logfacts.events import Stats
from tui.server.logfacts.phases import LABELS, ORDER, Phase
from tui.server.serving_metrics import MetricsHistory
from widgets.sparkline_text import sparkline

# (contract key, label, unit or formatter)
FACT_ROWS: tuple[tuple[str, str], ...] = (
    ("vllm_version", "vLLM"),
    ("platform", "Platform"),
    ("architecture", "Architecture"),
    ("dtype", "dtype"),
    ("max_model_len", "Max model len"),
    ("tensor_parallel_size", "TP size"),
    ("max_num_batched_tokens", "Batched tokens"),
    ("weights_gib", "Weights"),
    ("kv_cache_tokens", "KV cache tokens"),
    ("kv_cache_gib", "KV cache"),
    ("max_concurrency", "Max concurrency"),
    ("compilation", "Compilation"),
    ("graph_max_batch_sizes", "ACL graph max batch"),
    ("graph_capture_sizes", "Graph sizes"),
    ("api_url", "API"),
)


def _value(key: str, value: Any) -> Text:
    if value is None:
        return Text("—", style="dim")
    if key in ("weights_gib", "kv_cache_gib"):
        return Text(f"{value:.2f} GiB")
    if key == "kv_cache_tokens":
        return Text(f"{value:,}")
    if key == "max_concurrency":
        return Text(f"{value:.1f}×")
    return Text(str(value))


def facts_table(facts: Mapping[str, Any]) -> Table:
    table = Table.grid(padding=(0, 1))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, label in FACT_ROWS:
        table.add_row(label, _value(key, facts.get(key)))
    return table


def phases_table(phases: Sequence[Phase], progress: tuple[str, int] | None, finished: bool) -> Table:
    """Each phase reached, with its duration; the current one marked, the unreached ones dim."""
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(justify="right", no_wrap=True)
    reached = {phase.name: phase for phase in phases}
    current = phases[-1].name if phases and not finished else None
    for name in ORDER:
        phase = reached.get(name)
        if phase is None:
            table.add_row(Text("·", style="dim"), Text(LABELS[name], style="dim"), "")
            continue
        marker = Text("▶", style="bold yellow") if name == current and name != "ready" else Text("✔", style="green")
        label = Text(LABELS[name])
        if name == current and progress is not None and name in ("weights_loading", "graph_capture"):
            label.append(f"  {progress[1]}%", style="bold")
        duration = "" if phase.duration_s is None else f"{phase.duration_s:.0f} s"
        if finished and phase is phases[-1] and name != "ready":
            # The last phase "lasts" until the log's last line: for a log that ended (or a server that
            # failed) that is not how long the phase took, so no figure is shown for it.
            duration = ""
        table.add_row(marker, label, duration)
    return table


def diagnosis_text(root: Diagnosis | None, others: int) -> Text:
    if root is None:
        return Text("")
    text = Text()
    text.append("Root cause: ", style="bold red")
    text.append(root.kind + (f" {root.code}" if root.code else ""), style="bold")
    text.append(f" (log line {root.line})\n", style="dim")
    said = root.message or root.text  # the exception's own message (`ValueError: …`), else the log line
    text.append(said[:300] + ("…" if len(said) > 300 else "") + "\n", style="red")
    text.append("Try: ", style="bold")
    text.append(root.hint)
    if others:
        text.append(f"\n{others} other error(s) follow from it or beside it.", style="dim")
    return text


def metrics_table(rows: Sequence[tuple[str, str, Sequence[float | None]]]) -> Table:
    """(label, value now, history) rows, each with a sparkline."""
    table = Table.grid(padding=(0, 1))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(justify="right", no_wrap=True)
    table.add_column(no_wrap=True)
    for label, value, history in rows:
        table.add_row(label, value, Text(sparkline(history, 16), style="cyan"))
    return table


def section(title: str, body: RenderableType) -> Group:
    return Group(Text(title, style="bold #ffa62b"), body, Text(""))


def metrics_rows(history: MetricsHistory) -> list[tuple[str, str, Sequence[float | None]]]:
    """The live serving numbers with their trends, from the `/metrics` scrapes so far."""
    latest = history.latest
    if latest is None:
        return []
    metrics, rates = latest.metrics, latest.rates

    kv = metrics.kv_cache_usage
    return [
        ("Running", or_na(metrics.running), history.series(lambda p: p.metrics.running)),
        ("Waiting", or_na(metrics.waiting), history.series(lambda p: p.metrics.waiting)),
        ("KV cache", or_na(None if kv is None else kv * 100, ".1f", " %"),
         history.series(lambda p: p.metrics.kv_cache_usage)),
        ("Prompt tok/s", or_na(rates.prompt_tokens_per_s if rates else None, ".1f"),
         history.rate_series(lambda r: r.prompt_tokens_per_s)),
        ("Gen tok/s", or_na(rates.generation_tokens_per_s if rates else None, ".1f"),
         history.rate_series(lambda r: r.generation_tokens_per_s)),
        ("Mean TTFT", or_na(None if not rates or rates.mean_ttft_s is None else rates.mean_ttft_s * 1000, ".0f", " ms"),
         history.rate_series(lambda r: r.mean_ttft_s)),
    ]


def stats_rows(history: Sequence[Stats]) -> list[tuple[str, str, Sequence[float | None]]]:
    """The same numbers from the log's periodic `Engine 000: Avg prompt throughput …` lines (no /metrics)."""
    if not history:
        return []
    last = history[-1]
    return [
        ("Running", str(last.running), [s.running for s in history]),
        ("Waiting", str(last.waiting), [s.waiting for s in history]),
        ("KV cache", f"{last.kv_usage_pct:.1f} %", [s.kv_usage_pct for s in history]),
        ("Prompt tok/s", f"{last.prompt_tps:.1f}", [s.prompt_tps for s in history]),
        ("Gen tok/s", f"{last.gen_tps:.1f}", [s.gen_tps for s in history]),
    ]
