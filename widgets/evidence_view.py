"""The inference-evidence result drawn for the Stages area: each prompt, its first answer, and whether the
two runs at temperature 0 agreed; the API exchanges' statuses above. Draws only what it is given."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from tui.report.redact import redact

SAME = {True: Text("yes", style="green"), False: Text("NO", style="bold red"), None: Text("failed", style="yellow")}


def is_evidence_result(result: Mapping[str, Any]) -> bool:
    return isinstance(result.get("exchanges"), Mapping) and isinstance(result.get("prompts"), list)


def _flat(text: object, limit: int) -> str:
    """One cell's worth of `text`, anything that looks like a credential masked (never a secret on screen)."""
    flat = redact(str(text or "")).replace("\n", " ⏎ ").strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def evidence_result(result: Mapping[str, Any]) -> Group:
    exchanges = Text()
    for name, exchange in result["exchanges"].items():
        if isinstance(exchange, Mapping):
            ok = exchange.get("error") is None
            exchanges.append(f"{name} HTTP {exchange.get('status') or '—'}  ", style="green" if ok else "bold red")
    table = Table(box=None, padding=(0, 1), header_style="bold")
    for column in ("#", "same twice", "tokens", "latency ms", "finish", "prompt → first answer"):
        table.add_column(column, justify="right" if column in ("#", "tokens", "latency ms") else "left",
                         overflow="fold" if column.startswith("prompt") else "ellipsis")
    for item in result["prompts"]:
        if not isinstance(item, Mapping):
            continue
        runs = item.get("runs") or [{}]
        first = runs[0] if isinstance(runs[0], Mapping) else {}
        latency = first.get("latency_ms")
        answer = first.get("output") or first.get("error") or ""
        table.add_row(str(int(item.get("index", 0)) + 1), SAME.get(item.get("deterministic"), SAME[None]),
                      str(first.get("completion_tokens") or "—"),
                      f"{latency:.1f}" if isinstance(latency, (int, float)) else "—", str(first.get("finish_reason")
                                                                                        or "—"),
                      f"{_flat(item.get('prompt'), 40)} → {_flat(answer, 80)}")
    raw = result.get("summary")
    summary: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    line = Text(f"{summary.get('deterministic')} of {summary.get('prompts')} prompt(s) answered the same twice at "
                f"temperature 0; {summary.get('failed_runs')} request(s) failed. Model {result.get('model')}.")
    return Group(exchanges, table, line)
