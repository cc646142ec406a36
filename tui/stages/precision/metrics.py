"""Metrics between a reference and a candidate vector (one position's logits, or one layer's hidden states).

Pure functions of torch tensors, every one computed in float64 so the comparison adds no rounding of its own
(a bf16 candidate is widened exactly). The definitions follow msit's `llm compare` (cmp_algorithm.py) where
it has one, and say where they do not:

* cosine: 1.0 when both vectors are all zero (msit), 0.0 when only one is;
* relative error (max and mean): elementwise |cand/ref - 1| with |ref| <= float32 eps masked to 0, the mean
  taken over *all* elements, masked zeros included (msit); near-zero entries would otherwise explode it;
* relative L2: ||cand - ref|| / ||ref|| (msit's "relative Euclidean"), the error the noise floor uses;
* absolute error (max and mean) over all elements, *not* masked: msit masks it too, which hides a wrong
  value where the reference is exactly zero;
* KL(p_ref || p_cand) over softmax of the logits;
* top-1 agreement raw, and tie-aware (see `top1_tie_aware`); top-k overlap |top_k(ref) ∩ top_k(cand)| / k.

A NaN or Inf in the candidate makes the affected numbers NaN; `report` writes them as null.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

FP32_EPS = float(torch.finfo(torch.float32).eps)
BF16_MANTISSA_BITS = 7
TIE_ULPS = 2.0
"""A top-1 flip is benign when the reference prefers its token by at most this many bf16 ULPs (at the
top-1 logit's magnitude): each logit's own bf16 rounding is half an ULP, and a bf16 forward pass adds about
as much again in accumulation, so two ULPs is the resolution below which bf16 cannot tell the two apart."""
TOP_K = 5


@dataclass(frozen=True)
class TensorStats:
    """min, max and mean of a tensor (msit's CSV columns for golden and "my" data)."""

    min: float
    max: float
    mean: float


@dataclass(frozen=True)
class PositionMetrics:
    """Every metric of one position's logits, reference against candidate."""

    ref_top1: int
    cand_top1: int
    top1_match: bool
    top1_match_tie_aware: bool
    top5_overlap: float
    cosine: float
    mse: float
    max_abs_error: float
    mean_abs_error: float
    max_relative_error: float
    mean_relative_error: float
    relative_l2: float
    kl: float
    nan_inf: int
    ref_stats: TensorStats
    cand_stats: TensorStats


def _pair(ref: torch.Tensor, cand: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if ref.shape != cand.shape:
        raise ValueError(f"cannot compare tensors of shapes {tuple(ref.shape)} and {tuple(cand.shape)}")
    return ref.detach().reshape(-1).to(torch.float64), cand.detach().reshape(-1).to(torch.float64)


def cosine(ref: torch.Tensor, cand: torch.Tensor) -> float:
    """Cosine similarity in float64: 1.0 when both are all zero, 0.0 when only one is."""
    r, c = _pair(ref, cand)
    if torch.equal(r, c):  # identical runs: exactly 1, not 1 minus the rounding of two norms
        return 1.0
    norm_r, norm_c = float(torch.linalg.vector_norm(r)), float(torch.linalg.vector_norm(c))
    if norm_r == 0.0 and norm_c == 0.0:
        return 1.0
    if norm_r == 0.0 or norm_c == 0.0:
        return 0.0
    value = float(torch.dot(r, c)) / (norm_r * norm_c)
    return max(-1.0, min(1.0, value)) if math.isfinite(value) else math.nan


def mse(ref: torch.Tensor, cand: torch.Tensor) -> float:
    r, c = _pair(ref, cand)
    return float(torch.mean((c - r) ** 2))


def abs_errors(ref: torch.Tensor, cand: torch.Tensor) -> tuple[float, float]:
    """(max, mean) of |cand - ref| over every element (no mask: see the module docstring)."""
    r, c = _pair(ref, cand)
    diff = torch.abs(c - r)
    return float(torch.max(diff)), float(torch.mean(diff))


def relative_errors(ref: torch.Tensor, cand: torch.Tensor) -> tuple[float, float]:
    """msit's (max, mean) relative error |cand/ref - 1|, elements with |ref| <= fp32 eps counted as 0."""
    r, c = _pair(ref, cand)
    mask = torch.abs(r) > FP32_EPS
    rel = torch.zeros_like(r)
    rel[mask] = torch.abs(c[mask] / r[mask] - 1.0)
    rel[~mask & ~torch.isfinite(c)] = math.nan  # a NaN under a masked zero must still show
    return float(torch.max(rel)), float(torch.mean(rel))


def relative_l2(ref: torch.Tensor, cand: torch.Tensor) -> float:
    """||cand - ref|| / ||ref||; 0.0 when both are zero, inf when only the reference is."""
    r, c = _pair(ref, cand)
    norm_r = float(torch.linalg.vector_norm(r))
    norm_d = float(torch.linalg.vector_norm(c - r))
    if norm_r == 0.0:
        return 0.0 if norm_d == 0.0 else math.inf
    return norm_d / norm_r


def kl_divergence(ref_logits: torch.Tensor, cand_logits: torch.Tensor) -> float:
    """KL(p_ref || p_cand) = Σ p_ref (log p_ref - log p_cand) over softmax of the logits, in float64."""
    r, c = _pair(ref_logits, cand_logits)
    log_p = torch.log_softmax(r, dim=0)
    log_q = torch.log_softmax(c, dim=0)
    value = float(torch.sum(torch.exp(log_p) * (log_p - log_q)))
    return max(0.0, value) if math.isfinite(value) else value  # rounding can dip a hair below 0; NaN stays NaN


def top_k_ids(logits: torch.Tensor, k: int = TOP_K) -> list[int]:
    """The ids of the k largest logits, best first (ties broken by the lower id, as torch.topk does)."""
    flat = logits.detach().reshape(-1).to(torch.float64)
    return [int(i) for i in torch.topk(flat, min(k, flat.numel())).indices]


def top_k_overlap(ref_ids: list[int], cand_ids: list[int], k: int = TOP_K) -> float:
    """|top_k(ref) ∩ top_k(cand)| / k (k shrinks to the vocabulary when that is smaller)."""
    size = min(k, max(len(ref_ids), 1))
    return len(set(ref_ids[:size]) & set(cand_ids[:size])) / size


def bf16_ulp(value: float) -> float:
    """The spacing of bfloat16 numbers at |value| (8 significant bits); the smallest normal's at 0."""
    magnitude = abs(value)
    if magnitude == 0.0 or not math.isfinite(magnitude):
        return 2.0 ** (-126 - BF16_MANTISSA_BITS)
    return 2.0 ** (math.floor(math.log2(magnitude)) - BF16_MANTISSA_BITS)


def top1_tie_aware(ref_logits: torch.Tensor, cand_top1: int, ref_top_ids: list[int] | None = None) -> bool:
    """True when the candidate's top-1 matches the reference's, or the flip is within bf16 noise.

    A flip counts as benign when the candidate's token is in the reference top-5 (vLLM's logprobs rule)
    and the reference prefers its own top-1 over the candidate's token by at most `TIE_ULPS` bf16 ULPs at
    the top-1 logit's magnitude. This is stricter than only looking at the reference's top-1/top-2 gap:
    a near-tie between the first two does not excuse picking the fifth.
    """
    flat = ref_logits.detach().reshape(-1).to(torch.float64)
    top = ref_top_ids if ref_top_ids is not None else top_k_ids(flat)
    if cand_top1 == top[0]:
        return True
    if cand_top1 not in top[:TOP_K]:
        return False
    best = float(flat[top[0]])
    gap = best - float(flat[cand_top1])
    return gap <= TIE_ULPS * bf16_ulp(best)


def nonfinite_count(tensor: torch.Tensor) -> int:
    """How many elements are NaN or ±Inf."""
    return int((~torch.isfinite(tensor.detach())).sum())


def stats(tensor: torch.Tensor) -> TensorStats:
    flat = tensor.detach().reshape(-1).to(torch.float64)
    return TensorStats(float(flat.min()), float(flat.max()), float(flat.mean()))


def compare_position(ref_logits: torch.Tensor, cand_logits: torch.Tensor) -> PositionMetrics:
    """Every metric of one position's logits (two 1-D tensors of the same vocabulary size)."""
    ref_top = top_k_ids(ref_logits)
    cand_top = top_k_ids(cand_logits)
    max_abs, mean_abs = abs_errors(ref_logits, cand_logits)
    max_rel, mean_rel = relative_errors(ref_logits, cand_logits)
    return PositionMetrics(
        ref_top1=ref_top[0],
        cand_top1=cand_top[0],
        top1_match=ref_top[0] == cand_top[0],
        top1_match_tie_aware=top1_tie_aware(ref_logits, cand_top[0], ref_top),
        top5_overlap=top_k_overlap(ref_top, cand_top),
        cosine=cosine(ref_logits, cand_logits),
        mse=mse(ref_logits, cand_logits),
        max_abs_error=max_abs,
        mean_abs_error=mean_abs,
        max_relative_error=max_rel,
        mean_relative_error=mean_rel,
        relative_l2=relative_l2(ref_logits, cand_logits),
        kl=kl_divergence(ref_logits, cand_logits),
        nan_inf=nonfinite_count(cand_logits),
        ref_stats=stats(ref_logits),
        cand_stats=stats(cand_logits),
    )
