"""When each request is sent: vLLM's arrival process, as offsets from the run's start.

`--request-rate inf` sends everything at once. Otherwise the gaps are drawn from
Gamma(shape = burstiness, scale = 1 / (rate × burstiness)) (burstiness 1 is a Poisson process,
larger is more even, `inf` is a constant gap), accumulated, and rescaled so the last request
lands exactly at N / rate, as `get_request` in `vllm/benchmarks/serve.py` does to keep the
achieved rate steady across seeds. The dispatcher sleeps to these absolute offsets, never by
relative sleeps, which drift below the target rate under load.
"""

from __future__ import annotations

import math
import random


def arrival_offsets(count: int, rate: float, burstiness: float = 1.0, seed: int | None = 0) -> list[float]:
    """Seconds from the start at which each of `count` requests is due (non-decreasing)."""
    if count <= 0:
        return []
    if not rate > 0:
        raise ValueError(f"the request rate must be above 0 (or inf), got {rate}")
    if not burstiness > 0:
        raise ValueError(f"burstiness must be above 0, got {burstiness}")
    if math.isinf(rate):
        return [0.0] * count
    rng = random.Random(seed)
    if math.isinf(burstiness):
        gaps = [1.0 / rate] * count
    else:
        scale = 1.0 / (rate * burstiness)
        gaps = [rng.gammavariate(burstiness, scale) for _ in range(count)]
    offsets: list[float] = []
    total = 0.0
    for gap in gaps:
        total += gap
        offsets.append(total)
    if offsets[-1] > 0:
        factor = (count / rate) / offsets[-1]
        offsets = [offset * factor for offset in offsets]
    return offsets
