"""How a precision check looks: the verdict with its reasons, one row per prompt, and the per-layer curve.

Pure renderables from the result object of the precision stage (CONTRACTS.md,
`precision --json`), so the Stages area and the runs picker draw it the same
way. A figure the stage could not compute (API mode has no hidden states) is
`N/A`, never 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from rich.cells import cell_len, set_cell_size
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tui.formatting import or_na
from widgets.sparkline_text import sparkline

VERDICT_STYLE = {"PASS": "bold green", "FAIL": "bold red"}


def is_precision_result(result: Mapping[str, Any]) -> bool:
    """True for a result object of the precision stage."""
    return "verdict" in result and isinstance(result.get("prompts"), list)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _cell(value: Any, digits: int) -> str:
    number = _number(value)
    return or_na(number, f".{digits}f")


def _short(prompt: Any, width: int = 28, pad: bool = False) -> str:
    """The prompt cut to `width` terminal cells (a Chinese character takes two; `pad`: exactly that wide)."""
    text = str(prompt).replace("\n", "⏎")
    if cell_len(text) > width:
        text = set_cell_size(text, width - 1).rstrip() + "…"
    return set_cell_size(text, width) if pad else text


def verdict_line(result: Mapping[str, Any]) -> Text:
    """`PASS` or `FAIL` in colour, what was compared, and each failed threshold."""
    verdict = str(result.get("verdict", "?"))
    line = Text(verdict, style=VERDICT_STYLE.get(verdict, "bold yellow"))
    reference = result.get("reference") or {}
    candidate = result.get("candidate") or {}
    if isinstance(reference, Mapping) and isinstance(candidate, Mapping):
        line.append(f"  {candidate.get('device')} {candidate.get('dtype')} against "
                    f"{reference.get('device')} {reference.get('dtype')}")
    if result.get("mode") == "api":
        line.append(" (the server's logprobs)", style="dim")
    summary = result.get("summary") or {}
    if isinstance(summary, Mapping):
        ratio = _number(summary.get("noise_floor_ratio"))
        if ratio is not None:
            line.append(f" · noise-floor ratio {ratio:.2f}")
    nan_inf = _number(result.get("nan_inf"))
    if nan_inf:
        line.append(f" · {nan_inf:g} NaN/Inf on the candidate", style="bold red")
    for reason in result.get("reasons") or []:
        line.append(f"\n  • {reason}", style="red")
    for note in result.get("notes") or []:
        line.append(f"\n  note: {note}", style="yellow")
    return line


def prompts_table(result: Mapping[str, Any]) -> Table:
    """One row per prompt, coloured by its own verdict; top-1, top-5, cosine, errors, KL, first divergent layer."""
    table = Table(box=None, padding=(0, 1), show_edge=False)
    table.add_column("prompt", no_wrap=True)
    table.add_column("tok", justify="right")
    table.add_column("top-1", justify="right")
    table.add_column("top-5", justify="right")
    table.add_column("cos min", justify="right")
    table.add_column("max abs", justify="right")
    table.add_column("rel err", justify="right")
    table.add_column("KL", justify="right")
    table.add_column("1st bad layer", justify="right")
    for entry in result.get("prompts") or []:
        if not isinstance(entry, Mapping):
            continue
        verdict = entry.get("verdict")
        style = "green" if verdict == "PASS" else "red" if verdict == "FAIL" else ""
        layer = entry.get("first_divergent_layer")
        table.add_row(
            Text(_short(entry.get("prompt", ""), pad=True), style=style),
            _cell(entry.get("tokens"), 0),
            _cell(entry.get("top1_agreement"), 3),
            _cell(entry.get("top5_overlap"), 3),
            _cell(entry.get("cosine_min"), 5),
            _cell(entry.get("max_abs_error"), 3),
            _cell(entry.get("relative_error_mean"), 4),
            _cell(entry.get("kl_mean"), 5),
            Text("—" if layer is None else str(layer), style="bold red" if layer is not None else "dim"),
        )
    return table


def worst_prompt(result: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The prompt whose layers tell the most: the first divergent one, else the lowest logits cosine."""
    prompts = [p for p in result.get("prompts") or [] if isinstance(p, Mapping) and p.get("layers")]
    if not prompts:
        return None
    diverged = [p for p in prompts if p.get("first_divergent_layer") is not None]
    if diverged:
        return diverged[0]
    return min(prompts, key=lambda p: _number(p.get("cosine_min")) or 1.0)


def layers_view(entry: Mapping[str, Any], width: int = 40) -> RenderableType:
    """Per-layer cosine as a curve plus a row per layer; the first divergent layer stands out."""
    layers = [layer for layer in entry.get("layers") or [] if isinstance(layer, Mapping)]
    first = entry.get("first_divergent_layer")
    title = Text(f"Layers of “{_short(entry.get('prompt', ''), 40)}”", style="bold")
    if not layers:
        return Group(title, Text("No hidden states (API mode compares logprobs only).", style="dim"))
    cosines: Sequence[float | None] = [_number(layer.get("cosine")) for layer in layers]
    # 1 - cosine on a log-ish scale shows where the error grows; the bars are the distance from 1
    distances = [None if c is None else max(0.0, 1.0 - c) for c in cosines]
    curve = Text("1−cos ")
    curve.append(sparkline(distances, min(width, len(distances))), style="cyan")
    table = Table(box=None, padding=(0, 1), show_edge=False)
    table.add_column("layer", justify="right")
    table.add_column("cosine", justify="right")
    table.add_column("rel err", justify="right")
    for layer in layers:
        index = layer.get("layer")
        style = "bold red" if first is not None and index == first else ""
        table.add_row(Text(str(index), style=style), Text(_cell(layer.get("cosine"), 6), style=style),
                      Text(_cell(layer.get("relative_error"), 5), style=style))
    return Group(title, curve, table)


def precision_result(result: Mapping[str, Any], layers_of: int | None = None) -> RenderableType:
    """The whole check: verdict and reasons, the per-prompt table, and one prompt's layers.

    The layers drawn are those of prompt number `layers_of` (0-based) when it has some, else of the
    prompt that tells most (`worst_prompt`).
    """
    parts: list[RenderableType] = [verdict_line(result), prompts_table(result)]
    failed = [entry for entry in result.get("prompts") or []
              if isinstance(entry, Mapping) and entry.get("verdict") == "FAIL"]
    if failed:  # a prompt's own FAIL says why, also (and especially) under an overall PASS
        why = Text()
        for entry in failed:
            reasons = [str(reason) for reason in entry.get("reasons") or []] or ["no reason recorded"]
            why.append(f"{_short(entry.get('prompt', ''), 28)}: FAIL — {'; '.join(reasons)}\n", style="red")
        if result.get("verdict") == "PASS":
            why.append("The overall verdict is judged on all prompts together (and the bf16 noise floor), so one "
                       "prompt's FAIL does not fail the check; read it as a lead.", style="dim")
        parts.append(why)
    summary = result.get("summary")
    if isinstance(summary, Mapping):
        parts.append(Text(
            f"all prompts: top-1 {_cell(summary.get('top1_agreement'), 3)} "
            f"(tie-aware {_cell(summary.get('top1_agreement_tie_aware'), 3)}) · "
            f"top-5 {_cell(summary.get('top5_overlap'), 3)} · cosine min {_cell(summary.get('cosine_min'), 5)} · "
            f"KL mean {_cell(summary.get('kl_mean'), 5)}", style="dim"))
    prompts = result.get("prompts") or []
    chosen = prompts[layers_of] if layers_of is not None and 0 <= layers_of < len(prompts) else None
    if not (isinstance(chosen, Mapping) and chosen.get("layers")):
        chosen = worst_prompt(result)
    if chosen is not None:
        parts.append(layers_view(chosen))
    made_with = provenance_line(result)
    if made_with is not None:
        parts.append(made_with)
    if result.get("csv"):
        parts.append(Text(f"Per-position CSV: {result.get('csv')}", style="dim"))
    return Group(*parts)


def provenance_line(result: Mapping[str, Any]) -> Text | None:
    """Which checkpoint (fingerprint) and which software and chip the verdict is about, in one dim line."""
    block = result.get("provenance")
    if not isinstance(block, Mapping):
        return None
    found = block.get("versions")
    versions: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    parts = [f"checkpoint {block.get('reference_fingerprint') or 'N/A'}"]
    candidate = block.get("candidate_fingerprint")
    if candidate and candidate != block.get("reference_fingerprint"):
        parts.append(f"candidate {candidate}")
    parts += [f"{name} {versions.get(name) or 'N/A'}" for name in ("torch", "transformers", "torch_npu", "cann")]
    if block.get("device_name"):
        parts.append(f"on {block.get('device_name')}")
    return Text(" · ".join(parts), style="dim")
