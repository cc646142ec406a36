"""The metric, layer and verdict functions against values worked out by hand."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from tui.stages.precision import metrics  # noqa: E402
from tui.stages.precision.layers import LayerMetrics, first_divergent_layer, layer_names  # noqa: E402
from tui.stages.precision.verdict import Thresholds, judge, noise_floor_ratio  # noqa: E402


def t(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)


def test_cosine_by_hand() -> None:
    assert metrics.cosine(t(1, 0), t(0, 1)) == 0.0
    assert metrics.cosine(t(1, 2, 3), t(1, 2, 3)) == 1.0
    assert metrics.cosine(t(1, 1), t(1, 0)) == pytest.approx(1 / math.sqrt(2), abs=1e-15)
    assert metrics.cosine(t(3, 4), t(-3, -4)) == -1.0
    assert metrics.cosine(t(0, 0), t(0, 0)) == 1.0  # msit: both all-zero
    assert metrics.cosine(t(0, 0), t(1, 0)) == 0.0


def test_errors_by_hand() -> None:
    ref, cand = t(1, -2, 4, 0), t(1.5, -2, 3, 0.25)
    # differences 0.5, 0, -1, 0.25 → squares 0.25, 0, 1, 0.0625
    assert metrics.mse(ref, cand) == pytest.approx(1.3125 / 4)
    assert metrics.abs_errors(ref, cand) == pytest.approx((1.0, 1.75 / 4))
    # relative: 0.5, 0, 0.25, masked (|ref| = 0 <= eps) → max 0.5, mean 0.75 / 4 (the masked zero counts)
    assert metrics.relative_errors(ref, cand) == pytest.approx((0.5, 0.75 / 4))
    # ||d|| = sqrt(1.3125), ||r|| = sqrt(21)
    assert metrics.relative_l2(ref, cand) == pytest.approx(math.sqrt(1.3125 / 21))
    assert metrics.relative_l2(t(0, 0), t(0, 0)) == 0.0
    assert metrics.relative_l2(t(0, 0), t(1, 0)) == math.inf


def test_relative_error_masks_only_near_zero_reference_entries() -> None:
    eps = metrics.FP32_EPS
    ref, cand = t(eps / 2, 2.0), t(1.0, 3.0)
    assert metrics.relative_errors(ref, cand) == pytest.approx((0.5, 0.25))


def test_kl_by_hand() -> None:
    # p = softmax(log [0.5, 0.25, 0.25]) = that; q uniform over 3 → KL = Σ p log(p/q)
    p = [0.5, 0.25, 0.25]
    expected = sum(x * math.log(x / (1 / 3)) for x in p)
    assert metrics.kl_divergence(t(*[math.log(x) for x in p]), t(0, 0, 0)) == pytest.approx(expected, rel=1e-6)
    assert metrics.kl_divergence(t(1, 2, 3), t(1, 2, 3)) == 0.0
    assert metrics.kl_divergence(t(1, 2, 3), t(11, 12, 13)) == pytest.approx(0.0, abs=1e-12)  # shift-invariant


def test_top_k_overlap_and_top1() -> None:
    ref = t(9, 8, 7, 6, 5, 4, 0)
    cand = t(9, 8, 7, 6, 0, 4, 5)  # top-5: 0,1,2,3,6 vs 0,1,2,3,4
    assert metrics.top_k_ids(ref) == [0, 1, 2, 3, 4]
    assert metrics.top_k_overlap(metrics.top_k_ids(ref), metrics.top_k_ids(cand)) == 0.8
    position = metrics.compare_position(ref, cand)
    assert position.top1_match and position.top1_match_tie_aware and position.top5_overlap == 0.8


def test_bf16_ulp() -> None:
    assert metrics.bf16_ulp(1.0) == 2**-7
    assert metrics.bf16_ulp(20.0) == 0.125  # [16, 32): the anchor's example
    assert metrics.bf16_ulp(-0.3) == 2**-9


def test_tie_aware_top1_forgives_only_flips_within_bf16_noise() -> None:
    near = t(20.0, 20.0 - 0.2, 1.0, 0.5, 0.25, 0.0)  # gap 0.2 <= 2 ULP (0.25) at 20
    far = t(20.0, 20.0 - 0.5, 1.0, 0.5, 0.25, 0.0)
    assert metrics.top1_tie_aware(near, 1)
    assert not metrics.top1_tie_aware(far, 1)
    assert metrics.top1_tie_aware(far, 0)
    wide = t(20.0, 19.9, 19.8, 19.7, 19.6, 19.95)  # token 5 is second best: in top-5, gap 0.05
    assert metrics.top1_tie_aware(wide, 5)
    outside = t(20.0, 19.99, 19.98, 19.97, 19.96, 19.95, 19.94)  # token 6 is sixth: not in top-5
    assert not metrics.top1_tie_aware(outside, 6)


def test_nan_in_the_candidate_shows_everywhere() -> None:
    position = metrics.compare_position(t(1, 2, 3), t(1, math.nan, 3))
    assert position.nan_inf == 1
    assert math.isnan(position.cosine) and math.isnan(position.kl) and math.isnan(position.max_relative_error)
    assert metrics.nonfinite_count(t(math.inf, -math.inf, math.nan, 0)) == 3


def test_layer_names_follow_hf_hidden_states() -> None:
    assert layer_names(4) == [(None, "embed_tokens"), (0, "layers.0"), (1, "layers.1"), (2, "layers.2+norm")]


def test_first_divergent_layer_uses_msprobe_rule() -> None:
    def stack(*cosines: float) -> list[LayerMetrics]:
        return [LayerMetrics(None, "embed_tokens", 1.0, 0.0)] + [
            LayerMetrics(i, f"layers.{i}", c, 0.0) for i, c in enumerate(cosines)]

    assert first_divergent_layer(stack(0.9999, 0.999, 0.995)) is None
    assert first_divergent_layer(stack(0.9999, 0.98, 0.5)) == 1  # below 0.99
    assert first_divergent_layer(stack(0.9999, 0.999, math.nan)) == 2  # NaN is divergent
    # a drop of more than 0.1 is divergent even above the floor — only reachable with a lower floor
    assert first_divergent_layer(stack(0.99, 0.85, 0.84), floor=0.5) == 1


def test_noise_floor_ratio_and_zero_noise() -> None:
    assert noise_floor_ratio(0.02, 0.01) == 2.0
    assert noise_floor_ratio(0.0, 0.01) == 0.0
    assert noise_floor_ratio(0.02, 0.0) is None
    assert noise_floor_ratio(None, 0.01) is None
    assert math.isnan(noise_floor_ratio(math.nan, 0.01) or 0.0)
    reasons, judged = judge({"relative_l2_mean": 0.3, "noise_relative_l2_mean": 0.0, "noise_floor_ratio": None},
                            Thresholds())
    assert judged == 1 and reasons == ["the logits differ from the reference (relative L2 0.3) where a CPU bf16 run "
                                       "of the same weights matches it exactly"]
    reasons, judged = judge({"relative_l2_mean": 0.0, "noise_relative_l2_mean": 0.0, "noise_floor_ratio": None},
                            Thresholds())
    assert judged == 1 and reasons == []


def test_judge_names_each_failed_threshold_and_skips_unmeasured_ones() -> None:
    numbers = {"top1_agreement": 0.9, "top1_agreement_tie_aware": 0.97, "top5_overlap": 0.5, "cosine_min": None,
               "kl_mean": 0.2, "noise_floor_ratio": 2.5}
    reasons, judged = judge(numbers, Thresholds(kl_max=0.1), nan_inf=3, where="in prompt 2")
    assert judged == 5
    assert reasons == [
        "top-5 overlap 0.5 is below 0.9 in prompt 2",
        "mean KL divergence 0.2 is above 0.1 in prompt 2",
        "noise-floor ratio (candidate error / CPU bf16 error) 2.5 is above 2 in prompt 2",
        "the candidate produced 3 NaN/Inf values in prompt 2",
    ]
    assert judge({}, Thresholds()) == ([], 0)
