"""Two benchmark results side by side (eager against graph mode, before against after), deltas in percent.

A row per measured figure either result has, throughput first, then each latency figure. `better`
says which side wins: lower is better for latency-like figures (TTFT, TPOT, ITL, E2EL, latency,
failures, duration), higher for throughput-like ones (throughput, goodput, completed, success rate).
Standard deviations are left out of the rows (their percent change near zero says nothing; they are
in each result). Settings (prompt counts, lengths, rates) are not figures: the ones that differ are
listed apart in `settings_differ`, because a comparison across different loads is not like for like.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

LOWER_IS_BETTER = ("ttft", "tpot", "itl", "e2el", "latency", "failed", "duration", "queue_time")
HIGHER_IS_BETTER = ("throughput", "goodput", "completed", "success_rate", "max_output_tokens_per_s")
SETTINGS = frozenset({
    "runs", "requests", "concurrency", "num_prompts", "input_len", "output_len", "request_rate", "burstiness",
    "max_concurrency", "client_cpu_max_pct", "total_input_tokens", "warmup", "workers", "endpoint", "ignore_eos",
    "model", "mode", "inexact_prompts",
})
NOISE_PCT = 1.0
"""A change smaller than this many percent names no better side: run-to-run noise is about that large."""
COMPARED_SETTINGS = ("mode", "model", "endpoint", "runs", "requests", "concurrency", "num_prompts", "input_len",
                     "output_len", "request_rate", "burstiness", "max_concurrency", "ignore_eos", "warmup")
ROW_ORDER = ("throughput", "goodput", "max_output_tokens_per_s", "completed", "failed", "success_rate", "duration",
             "ttft", "tpot", "itl", "e2el", "latency", "queue_time")


class CompareError(Exception):
    """A result file that cannot be read; the sentence names it."""


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def direction(metric: str) -> str | None:
    """"lower", "higher" or None (a setting, or a figure with no better side)."""
    if metric in SETTINGS:
        return None
    if any(word in metric for word in HIGHER_IS_BETTER):
        return "higher"
    if any(word in metric for word in LOWER_IS_BETTER):
        return "lower"
    return None


def compare_results(a: Mapping[str, Any], b: Mapping[str, Any], label_a: str, label_b: str) -> dict[str, Any]:
    """`{"a": label_a, "b": label_b, "rows": [{"metric", "a", "b", "delta_pct", "better"}]}`.

    `delta_pct` is (b − a)/a × 100, None when a is 0 or either side is missing.
    """
    rows = []
    for metric, raw in a.items():
        x, y = _number(raw), _number(b.get(metric))
        if x is None and y is None:
            continue
        if x is None and metric not in b:
            continue
        if metric in SETTINGS or metric.startswith("std_"):
            continue
        delta = None if x is None or y is None or x == 0 else (y - x) / abs(x) * 100
        better = None
        way = direction(metric)
        if way is not None and x is not None and y is not None and x != y and (
                delta is None or abs(delta) >= NOISE_PCT):
            better = ("a" if x < y else "b") if way == "lower" else ("a" if x > y else "b")
        rows.append({"metric": metric, "a": raw if x is not None else None,
                     "b": b.get(metric) if y is not None else None, "delta_pct": delta, "better": better})
    rows.sort(key=lambda row: _rank(str(row["metric"])))
    differ = [{"setting": key, "a": a.get(key), "b": b.get(key)} for key in COMPARED_SETTINGS
              if (key in a or key in b) and a.get(key) != b.get(key)]
    return {"a": label_a, "b": label_b, "rows": rows, "settings_differ": differ}


def _rank(metric: str) -> int:
    """Where `metric` goes in the table: by the first ROW_ORDER word it holds (stable within a kind)."""
    return next((i for i, word in enumerate(ROW_ORDER) if word in metric), len(ROW_ORDER))


def load_result(path: Path) -> dict[str, Any]:
    """A saved result: the `--result-json` file, a stage's `result.json`, or an events line with `data`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CompareError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise CompareError(f"{path} is not JSON ({exc}); pass a file written by --result-json") from exc
    if isinstance(data, dict) and isinstance(data.get("data"), dict) and data.get("event") == "result":
        data = data["data"]
    if not isinstance(data, dict):
        raise CompareError(f"{path} holds no result object; pass a file written by --result-json")
    return data


def label_of(result: Mapping[str, Any], path: Path) -> str:
    label = result.get("label")
    return str(label) if label else str(path)


def format_table(comparison: Mapping[str, Any]) -> str:
    """The comparison as a fixed-width text table."""
    lines = [f"{'metric':<32} {'A':>14} {'B':>14} {'delta %':>9}  better",
             f"{'':<32} {str(comparison['a'])[-14:]:>14} {str(comparison['b'])[-14:]:>14}"]
    for row in comparison["rows"]:
        def cell(value: Any) -> str:
            return "N/A" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)
        delta = "N/A" if row["delta_pct"] is None else f"{row['delta_pct']:+.1f}"
        lines.append(f"{row['metric']:<32} {cell(row['a']):>14} {cell(row['b']):>14} {delta:>9}  {row['better'] or ''}")
    lines += [f"settings differ: {item['setting']} {item['a']} → {item['b']} (not like for like)"
              for item in comparison.get("settings_differ") or []]
    return "\n".join(lines)
