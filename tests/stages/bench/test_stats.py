"""The statistics equal numpy's (vLLM computes its figures with numpy) on hand-worked and random samples."""

from __future__ import annotations

import random

import pytest

from tui.stages.bench.stats import mean, median, percentile, percentile_key, std, summarize


def test_hand_computed_values() -> None:
    values = [4.0, 1.0, 3.0, 2.0]
    assert mean(values) == 2.5
    assert median(values) == 2.5
    # rank = 0.9 × 3 = 2.7 → 3 + 0.7 × (4 − 3)
    assert percentile(values, 90) == pytest.approx(3.7)
    assert percentile(values, 99) == pytest.approx(3.97)
    assert percentile(values, 0) == 1.0 and percentile(values, 100) == 4.0
    # population std: sqrt(((1.5² + 0.5²) × 2) / 4)
    assert std(values) == pytest.approx(1.118033988749895)
    assert percentile([7.0], 99) == 7.0 and std([7.0]) == 0.0


def test_empty_sample_is_not_measured() -> None:
    assert mean([]) is None and std([]) is None and percentile([], 50) is None
    assert set(summarize([], [50, 99]).values()) == {None}


def test_percentile_outside_range_is_refused() -> None:
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile([1.0], 101)


def test_percentile_keys_follow_vllm() -> None:
    assert percentile_key(99.0) == "99" and percentile_key(99.9) == "99.9" and percentile_key(50) == "50"


@pytest.mark.parametrize("size", [1, 2, 3, 10, 101, 1000])
def test_equal_to_numpy_on_random_samples(size: int) -> None:
    np = pytest.importorskip("numpy")
    rng = random.Random(size)
    values = [rng.lognormvariate(0, 1) for _ in range(size)]
    assert mean(values) == pytest.approx(float(np.mean(values)), rel=1e-12)
    assert std(values) == pytest.approx(float(np.std(values)), rel=1e-9, abs=1e-15)
    assert median(values) == pytest.approx(float(np.median(values)), rel=1e-12)
    for percent in (1, 25, 50, 90, 95, 99, 99.9):
        assert percentile(values, percent) == pytest.approx(float(np.percentile(values, percent)), rel=1e-12)
