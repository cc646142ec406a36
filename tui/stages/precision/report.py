"""The result object of CONTRACTS.md ("precision --json") and the per-position CSV, written atomically.

The JSON is exactly the contract's shape plus extras the console uses (`mode`, tie-aware agreement,
`nan_inf`, per-prompt verdicts, the thresholds used, the CSV's path, the noise floor, msit's elementwise
relative error beside the contract's `relative_error_mean`, which is the relative L2 error: see
`compare.prompt_numbers`). A number that is NaN
or infinite (a candidate that produced NaN) is written as null: JSON has no NaN, and the `reasons` say why.

The CSV has one row per prompt position, shaped like msit's `llm compare` output: golden/my dtype, shape,
max, min and mean of each side, the metrics, `passed` and `cmp_fail_reason`.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tui.files.atomic import atomic_write_json, atomic_write_text
from tui.stages.precision.compare import PositionResult, PromptResult, prompt_numbers

CSV_NAME = "precision_positions.csv"
CSV_COLUMNS = (
    "prompt_index", "prompt", "position", "input_token_id", "input_token", "golden_dtype", "my_dtype", "shape",
    "golden_max", "golden_min", "golden_mean", "my_max", "my_min", "my_mean",
    "golden_top1_id", "golden_top1", "my_top1_id", "my_top1", "top1_match", "top1_match_tie_aware", "top5_overlap",
    "cosine_similarity", "mse", "max_absolute_error", "mean_absolute_error", "max_relative_error",
    "mean_relative_error", "relative_euclidean", "kl_divergence", "noise_relative_euclidean", "nan_inf",
    "passed", "cmp_fail_reason",
)  # fmt: skip


def clean(value: Any) -> Any:
    """`value` with every NaN/Inf float replaced by None, recursively (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {key: clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(item) for item in value]
    return value


def prompt_json(result: PromptResult) -> dict[str, Any]:
    numbers = prompt_numbers(result)
    data: dict[str, Any] = clean({
        "prompt": result.prompt,
        "tokens": len(result.token_ids),
        "positions": len(result.positions),
        "top1_agreement": numbers["top1_agreement"],
        "top1_agreement_tie_aware": numbers["top1_agreement_tie_aware"],
        "top5_overlap": numbers["top5_overlap"],
        "cosine_min": numbers["cosine_min"],
        "max_abs_error": numbers["max_abs_error"],
        "relative_error_mean": numbers["relative_error_mean"],
        "msit_relative_error_mean": numbers["msit_relative_error_mean"],
        "kl_mean": numbers["kl_mean"],
        "noise_floor_ratio": result.noise_floor_ratio,
        "first_divergent_layer": result.first_divergent_layer,
        "layers": [{"layer": entry.layer, "name": entry.name, "cosine": entry.cosine,
                    "relative_error": entry.relative_error} for entry in result.layers if entry.layer is not None],
        "embeddings": next(({"cosine": entry.cosine, "relative_error": entry.relative_error}
                            for entry in result.layers if entry.layer is None), None),
        "verdict": result.verdict,
        "reasons": list(result.reasons),
    })
    return data


SUMMARY_KEYS = ("top1_agreement", "top1_agreement_tie_aware", "top5_overlap", "cosine_min", "cosine_mean",
                "mse_mean", "max_abs_error", "mean_abs_error", "relative_error_mean", "msit_relative_error_mean",
                "kl_mean", "noise_floor_ratio")


def build_result(*, model: str, mode: str, reference: Mapping[str, Any], candidate: Mapping[str, Any], verdict: str,
                 reasons: Sequence[str], summary: Mapping[str, Any], results: Sequence[PromptResult],
                 thresholds: Mapping[str, Any], nan_inf: int | None, csv_path: str | None,
                 noise_floor: Mapping[str, Any] | None, notes: Sequence[str] = (),
                 provenance: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The contract's object: contract keys first, then the extras."""
    data: dict[str, Any] = clean({
        "model": model,
        "reference": dict(reference),
        "candidate": dict(candidate),
        "verdict": verdict,
        "reasons": list(reasons),
        "summary": {key: summary.get(key) for key in SUMMARY_KEYS},
        "prompts": [prompt_json(result) for result in results],
        "mode": mode,
        "nan_inf": nan_inf,
        "thresholds": dict(thresholds),
        "csv": csv_path,
        "noise_floor": dict(noise_floor) if noise_floor is not None else None,
        "notes": list(notes),
        "provenance": dict(provenance) if provenance is not None else None,
    })
    return data


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("nan" if math.isnan(value) else repr(value))
    return value


def _position_check(position: PositionResult, cosine_min: float | None) -> tuple[bool, str]:
    """The per-row `passed` and `cmp_fail_reason`: finite, cosine over the floor, top-1 agreeing (tie-aware)."""
    problems = []
    if position.nan_inf:
        problems.append(f"{position.nan_inf} NaN/Inf in the candidate")
    if position.cosine is not None and cosine_min is not None and not position.cosine >= cosine_min:
        problems.append(f"cosine below {cosine_min:g}")
    if position.top1_match_tie_aware is False:
        problems.append("top-1 differs beyond bf16 noise")
    return not problems, "; ".join(problems)


def csv_text(results: Sequence[PromptResult], *, golden_dtype: str, my_dtype: str | None,
             decode: Callable[[int | str | None], str], cosine_min: float | None) -> str:
    """The per-position CSV as text (UTF-8; the prompt and token texts are kept as they are)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for index, result in enumerate(results, start=1):
        for p in result.positions:
            passed, reason = _position_check(p, cosine_min)
            ref, cand = p.ref_stats, p.cand_stats
            writer.writerow([_cell(value) for value in (
                index, result.prompt, p.position, p.input_token, decode(p.input_token), golden_dtype, my_dtype,
                f"[{p.vocab}]" if p.vocab is not None else None,
                ref.max if ref else None, ref.min if ref else None, ref.mean if ref else None,
                cand.max if cand else None, cand.min if cand else None, cand.mean if cand else None,
                p.ref_top1, decode(p.ref_top1), p.cand_top1 if isinstance(p.cand_top1, int) else None,
                decode(p.cand_top1), p.top1_match, p.top1_match_tie_aware, p.top5_overlap, p.cosine, p.mse,
                p.max_abs_error, p.mean_abs_error, p.max_relative_error, p.mean_relative_error, p.relative_l2, p.kl,
                p.noise_relative_l2, p.nan_inf, passed, reason,
            )])
    return buffer.getvalue()


def write_csv(path: Path, text: str) -> Path:
    return atomic_write_text(path, text)


def write_json(path: Path, result: Mapping[str, Any]) -> Path:
    return atomic_write_json(path, dict(result))
