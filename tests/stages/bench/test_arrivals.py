"""Arrival times: all at once for `inf`, gamma gaps otherwise, rescaled to end exactly at N / rate."""

from __future__ import annotations

import itertools
import math
import statistics

import pytest

from tui.stages.bench.arrivals import arrival_offsets


def test_infinite_rate_sends_everything_at_once() -> None:
    assert arrival_offsets(5, math.inf) == [0.0] * 5
    assert arrival_offsets(0, 4.0) == []


def gaps(offsets: list[float]) -> list[float]:
    return [b - a for a, b in zip([0.0, *offsets], offsets, strict=False)]


@pytest.mark.parametrize(("burstiness", "expected_cv"), [(1.0, 1.0), (4.0, 0.5), (0.25, 2.0)])
def test_gamma_gaps_have_the_rate_and_the_burstiness(burstiness: float, expected_cv: float) -> None:
    rate, count = 4.0, 20_000
    offsets = arrival_offsets(count, rate, burstiness, seed=7)
    assert offsets[-1] == pytest.approx(count / rate, rel=1e-12)  # rescaled to land exactly at N / rate
    assert all(b >= a for a, b in itertools.pairwise(offsets))
    spread = gaps(offsets)
    assert statistics.fmean(spread) == pytest.approx(1 / rate, rel=1e-9)
    # a gamma of shape k has a coefficient of variation of 1/sqrt(k)
    assert statistics.pstdev(spread) / statistics.fmean(spread) == pytest.approx(expected_cv, rel=0.05)


def test_same_seed_same_schedule_other_seed_other_schedule() -> None:
    assert arrival_offsets(32, 4.0, seed=1) == arrival_offsets(32, 4.0, seed=1)
    assert arrival_offsets(32, 4.0, seed=1) != arrival_offsets(32, 4.0, seed=2)


def test_infinite_burstiness_is_a_constant_gap() -> None:
    assert arrival_offsets(4, 2.0, math.inf) == pytest.approx([0.5, 1.0, 1.5, 2.0])


@pytest.mark.parametrize(("rate", "burstiness"), [(0.0, 1.0), (-1.0, 1.0), (1.0, 0.0)])
def test_impossible_settings_are_refused(rate: float, burstiness: float) -> None:
    with pytest.raises(ValueError):
        arrival_offsets(3, rate, burstiness)
