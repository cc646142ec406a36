"""Mean, median, standard deviation and percentiles exactly as numpy computes them, in pure Python.

vLLM's `calculate_metrics` uses `np.mean`, `np.median`, `np.std` (population, ddof=0) and
`np.percentile` with its default "linear" method; the stage must give the same numbers without
importing numpy (it runs under the console's interpreter, where numpy may be absent). An empty
sample gives None, not vLLM's 0: a figure that was not measured is not zero.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

PERCENTILE_METHOD = "linear (numpy)"
"""How percentiles are interpolated, written into every result so reports can say which definition they use."""


def mean(values: Sequence[float]) -> float | None:
    """The arithmetic mean; `math.fsum` keeps it as exact as numpy's pairwise sum."""
    if not values:
        return None
    return math.fsum(values) / len(values)


def std(values: Sequence[float]) -> float | None:
    """The population standard deviation (numpy's default `ddof=0`, as vLLM reports it)."""
    if not values:
        return None
    centre = math.fsum(values) / len(values)
    return math.sqrt(math.fsum((value - centre) ** 2 for value in values) / len(values))


def percentile_sorted(ordered: Sequence[float], percent: float) -> float | None:
    """`np.percentile(values, percent)` (method "linear") of an already sorted sample.

    The rank is `p/100 × (n − 1)`; the value lies on the straight line between the two
    neighbouring order statistics. numpy's own lerp formula is used, which switches ends at
    the midpoint so the result is exact at both neighbours.
    """
    if not ordered:
        return None
    if not 0 <= percent <= 100:
        raise ValueError(f"a percentile must be between 0 and 100, got {percent}")
    rank = percent / 100 * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    fraction = rank - low
    below, above = ordered[low], ordered[high]
    difference = above - below
    if fraction >= 0.5:
        return above - difference * (1 - fraction)
    return below + difference * fraction


def percentile(values: Iterable[float], percent: float) -> float | None:
    """`np.percentile(values, percent)` with numpy's default linear interpolation."""
    return percentile_sorted(sorted(values), percent)


def median(values: Iterable[float]) -> float | None:
    """`np.median`: the 50th percentile."""
    return percentile(values, 50)


def percentile_key(percent: float) -> str:
    """How vLLM spells a percentile in a key: `99` for 99.0, `99.9` otherwise (`p99_ttft_ms`, `p99.9_ttft_ms`)."""
    return str(int(percent)) if int(percent) == percent else str(percent)


def summarize(values: Sequence[float], percentiles: Sequence[float], scale: float = 1.0) -> dict[str, float | None]:
    """`{"mean", "median", "std", "p<N>"…}` of `values × scale` (None throughout for an empty sample)."""
    ordered = sorted(value * scale for value in values)
    summary: dict[str, float | None] = {
        "mean": mean(ordered),
        "median": percentile_sorted(ordered, 50),
        "std": std(ordered),
        "min": ordered[0] if ordered else None,
        "max": ordered[-1] if ordered else None,
    }
    for percent in percentiles:
        summary[f"p{percentile_key(percent)}"] = percentile_sorted(ordered, percent)
    return summary
