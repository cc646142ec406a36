"""PASS or FAIL, with the reasons: absolute thresholds, and a noise floor.

Absolute gates alone cannot judge bf16 logits: bf16 keeps 8 significant bits, so a logit of 20 is only
known to 0.125, and a perfectly correct bf16 kernel already misses msprobe's 1e-3 absolute line. The noise
floor separates "bf16 is noisy" from "this device is wrong": the same reference weights also run on the
CPU in bf16 (a known-good implementation at the same precision), and

    noise_floor_ratio = mean relative L2 error of the candidate's logits / the same for the CPU bf16 run

(relative L2 = ||cand - ref|| / ||ref|| per position, averaged over every position of every prompt) must
stay at or under `noise_floor_ratio_max` (2 by default, msprobe's benchmark-ratio L0 level). When the CPU
bf16 run matches the reference exactly, the ratio is undefined: it is null, and the candidate fails only
if it does not match exactly too.

Top-1 is gated on the tie-aware agreement (a flip between two tokens bf16 cannot tell apart is not an
error); the raw agreement is reported beside it. A value that was not measured (null) is not judged, but a
run where nothing at all could be judged fails: no evidence is not a PASS.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Thresholds:
    """The profile's `PrecisionThresholds`, same names and defaults; None means "report, do not judge"."""

    top1_agreement_min: float | None = 0.95
    top5_overlap_min: float | None = 0.9
    cosine_min: float | None = 0.99
    relative_error_max: float | None = None
    kl_max: float | None = None
    noise_floor_ratio_max: float | None = 2.0

    def to_json(self) -> dict[str, float | None]:
        return asdict(self)


def noise_floor_ratio(candidate_error: float | None, noise_error: float | None) -> float | None:
    """candidate / noise error; None when either is unmeasured or the noise error is zero."""
    if candidate_error is None or noise_error is None:
        return None
    if not math.isfinite(candidate_error):
        return math.nan
    if noise_error == 0.0:
        return None
    return candidate_error / noise_error


def _fmt(value: float) -> str:
    return "NaN" if math.isnan(value) else f"{value:.6g}"


def judge(numbers: Mapping[str, Any], thresholds: Thresholds, nan_inf: int | None = None,
          where: str = "") -> tuple[list[str], int]:
    """(reasons for failing, how many gates were judged) of one set of aggregates.

    `numbers` has the keys of `compare.prompt_numbers` plus `noise_floor_ratio`; `where` ("in prompt 2")
    ends each reason so the operator knows where to look.
    """
    suffix = f" {where}" if where else ""
    reasons: list[str] = []
    judged = 0

    def at_least(value: float | None, floor: float | None, label: str) -> None:
        nonlocal judged
        if value is None or floor is None:
            return
        judged += 1
        if not value >= floor:
            reasons.append(f"{label} {_fmt(value)} is below {floor:g}{suffix}")

    def at_most(value: float | None, ceiling: float | None, label: str) -> None:
        nonlocal judged
        if value is None or ceiling is None:
            return
        judged += 1
        if not value <= ceiling:
            reasons.append(f"{label} {_fmt(value)} is above {ceiling:g}{suffix}")

    top1 = numbers.get("top1_agreement_tie_aware")
    at_least(top1 if top1 is not None else numbers.get("top1_agreement"), thresholds.top1_agreement_min,
             "top-1 agreement (tie-aware)" if top1 is not None else "top-1 agreement")
    at_least(numbers.get("top5_overlap"), thresholds.top5_overlap_min, "top-5 overlap")
    at_least(numbers.get("cosine_min"), thresholds.cosine_min, "minimum logits cosine")
    at_most(numbers.get("relative_error_mean"), thresholds.relative_error_max, "mean relative error (L2)")
    at_most(numbers.get("kl_mean"), thresholds.kl_max, "mean KL divergence")
    ratio = numbers.get("noise_floor_ratio")
    at_most(ratio, thresholds.noise_floor_ratio_max, "noise-floor ratio (candidate error / CPU bf16 error)")
    noise = numbers.get("noise_relative_l2_mean")
    cand = numbers.get("relative_l2_mean")
    if ratio is None and noise == 0.0 and cand is not None and thresholds.noise_floor_ratio_max is not None:
        judged += 1
        if cand != 0.0:
            reasons.append(f"the logits differ from the reference (relative L2 {_fmt(cand)}) where a CPU bf16 "
                           f"run of the same weights matches it exactly{suffix}")
    if nan_inf is not None:
        judged += 1
        if nan_inf > 0:
            reasons.append(f"the candidate produced {nan_inf} NaN/Inf values{suffix}")
    return reasons, judged


@dataclass(frozen=True)
class Decision:
    """The overall verdict, its reasons and the summary numbers it was judged on."""

    verdict: str
    reasons: list[str]
    summary: dict[str, Any]


def decide(results: list[Any], thresholds: Thresholds) -> Decision:
    """Judge every prompt (its own verdict and reasons, set on it) and then the whole run.

    The overall verdict is judged on the summary over all positions; the reasons then name each failing
    prompt and, where the hidden states were compared, the first layer where they diverge.
    """
    from tui.stages.precision.compare import candidate_nan_inf, prompt_numbers, summary_numbers

    for result in results:
        numbers = prompt_numbers(result)
        result.noise_floor_ratio = noise_floor_ratio(numbers["relative_l2_mean"], numbers["noise_relative_l2_mean"])
        numbers["noise_floor_ratio"] = result.noise_floor_ratio
        reasons, judged = judge(numbers, thresholds, candidate_nan_inf([result]))
        result.reasons = reasons if judged else ["nothing could be compared for this prompt"]
        result.verdict = "PASS" if judged and not reasons else "FAIL"
    summary = summary_numbers(results)
    summary["noise_floor_ratio"] = noise_floor_ratio(summary["relative_l2_mean"], summary["noise_relative_l2_mean"])
    reasons, judged = judge(summary, thresholds, candidate_nan_inf(results))
    if not judged:
        reasons = ["nothing could be compared, so there is no evidence of a sound port"]
    if reasons:
        failing = [str(index) for index, result in enumerate(results, start=1) if result.verdict == "FAIL"]
        if failing:
            reasons.append(f"failing prompts: {', '.join(failing)} of {len(results)} (each prompt has its reasons)")
        reasons.extend(_divergence_lines(results))
    return Decision("FAIL" if reasons else "PASS", reasons, summary)


def _divergence_lines(results: list[Any]) -> list[str]:
    """One line per first divergent layer: which prompts it is in, and how low the cosine gets there."""
    by_layer: dict[int, list[tuple[int, float]]] = {}
    for index, result in enumerate(results, start=1):
        layer = result.first_divergent_layer
        if layer is None:
            continue
        entry = next((item for item in result.layers if item.layer == layer), None)
        by_layer.setdefault(layer, []).append((index, entry.cosine if entry is not None else math.nan))
    lines = []
    for layer in sorted(by_layer):
        hits = by_layer[layer]
        finite = [cosine for _, cosine in hits if math.isfinite(cosine)]
        low = f"; cosine down to {min(finite):.4g}" if finite else "; cosine NaN"
        lines.append(f"hidden states first diverge at layer {layer} (prompts "
                     f"{', '.join(str(index) for index, _ in hits)}{low})")
    return lines
