"""From request records to the result figures of each mode, with vLLM's definitions.

`serve_metrics` follows `calculate_metrics` in `vllm/benchmarks/serve.py` line by line: only
successful requests count; TPOT per request is (latency − ttft)/(output_len − 1) and only for
requests with more than one token (for goodput a 1-token request has TPOT 0); ITL is pooled over
every chunk of every request; statistics are numpy's (population std, linear percentiles);
throughputs divide by the run's duration (first dispatch to the last reply, tail included); the
peak output rate is vLLM's per-second bucket count of token chunks and the peak concurrency its
exact sweep over [start, start + latency). The one deliberate difference: a statistic over an
empty sample is None (not measured), where vLLM writes 0.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tui.stages.bench.records import RequestRecord
from tui.stages.bench.stats import mean, percentile_key, summarize

SERVE_METRICS = ("ttft", "tpot", "itl", "e2el")
GOODPUT_METRICS = ("ttft", "tpot", "e2el")
MS = 1000.0


def with_p99(percentiles: Iterable[float]) -> list[float]:
    """The requested percentiles, sorted, with 99 always among them (CONTRACTS.md requires `p99_<m>_ms`)."""
    return sorted({*percentiles, 99.0})


def failures_by_reason(records: Iterable[RequestRecord]) -> dict[str, int]:
    """Failed requests counted per short reason, most frequent first."""
    counts = Counter(record.reason or "unknown" for record in records if not record.success)
    return dict(counts.most_common())


def first_errors(records: Iterable[RequestRecord], limit: int = 10) -> list[str]:
    """The first `limit` failure sentences (vLLM prints the first 10), for the log."""
    found: list[str] = []
    for record in records:
        if not record.success and record.error:
            found.append(record.error)
            if len(found) >= limit:
                break
    return found


def _output_len(record: RequestRecord) -> int:
    """vLLM's fallback: with no count from the server or a tokenizer, one token."""
    return record.output_tokens or 1


def peak_output_tokens_per_s(successful: Sequence[RequestRecord]) -> float | None:
    """vLLM's `max_output_tokens_per_s`: the fullest one-second bucket of token chunks, from the first start."""
    if not successful:
        return None
    first_start = min(record.start for record in successful)
    last_end = max(record.start + (record.latency or 0.0) for record in successful)
    buckets = [0] * (math.ceil(last_end - first_start) + 1)
    for record in successful:
        moment = record.start + (record.ttft or 0.0)
        times = [moment]
        for gap in record.itl:
            moment += gap
            times.append(moment)
        for stamp in times:
            bucket = int(stamp - first_start)
            if 0 <= bucket < len(buckets):
                buckets[bucket] += 1
    return float(max(buckets))


def peak_concurrency(successful: Iterable[RequestRecord]) -> int | None:
    """vLLM's `max_concurrent_requests`: the most requests in flight at once over half-open [start, end)."""
    events: list[tuple[float, int]] = []
    for record in successful:
        events.append((record.start, 1))
        events.append((record.start + (record.latency or 0.0), -1))
    if not events:
        return None
    events.sort()  # at equal times the departure (-1) sorts before the arrival (+1)
    current = peak = 0
    for _, delta in events:
        current += delta
        peak = max(peak, current)
    return peak


def _metric_keys(result: dict[str, Any], name: str, values: Sequence[float], percentiles: Sequence[float]) -> None:
    summary = summarize(values, percentiles, scale=MS)
    result[f"mean_{name}_ms"] = summary["mean"]
    result[f"median_{name}_ms"] = summary["median"]
    result[f"std_{name}_ms"] = summary["std"]
    for percent in percentiles:
        key = percentile_key(percent)
        result[f"p{key}_{name}_ms"] = summary[f"p{key}"]


def serve_metrics(
    records: Sequence[RequestRecord],
    duration: float,
    percentiles: Iterable[float] = (99.0,),
    goodput: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """vLLM's `calculate_metrics` and the result keys of `vllm bench serve --save-result`.

    `goodput` maps `ttft`/`tpot`/`e2el` to an SLO in milliseconds; a request is good when every
    listed figure is at or below its SLO. `request_goodput` is None without SLOs.
    """
    chosen = with_p99(percentiles)
    successful = [record for record in records if record.success]
    ttfts: list[float] = []
    tpots: list[float] = []
    all_tpots: list[float] = []
    itls: list[float] = []
    e2els: list[float] = []
    total_input = total_output = 0
    for record in successful:
        output_len = _output_len(record)
        total_output += output_len
        total_input += record.prompt_len or 0
        tpot = 0.0
        if output_len > 1:
            tpot = ((record.latency or 0.0) - (record.ttft or 0.0)) / (output_len - 1)
            tpots.append(tpot)
        all_tpots.append(tpot)
        itls.extend(record.itl)
        ttfts.append(record.ttft or 0.0)
        e2els.append(record.latency or 0.0)
    good = None
    if goodput:
        columns = {"ttft": ttfts, "tpot": all_tpots, "e2el": e2els}
        good = 0
        for index in range(len(successful)):
            if all(columns[name][index] <= slo / MS for name, slo in goodput.items()):
                good += 1
    per_s = (lambda count: count / duration) if duration > 0 else (lambda count: None)
    result: dict[str, Any] = {
        "duration": duration,
        "completed": len(successful),
        "failed": len(records) - len(successful),
        "total_input_tokens": total_input,
        "total_output_tokens": total_output,
        "request_throughput": per_s(len(successful)),
        "request_goodput": None if good is None else per_s(good),
        "output_throughput": per_s(total_output),
        "total_token_throughput": per_s(total_input + total_output),
        "max_output_tokens_per_s": peak_output_tokens_per_s(successful),
        "max_concurrent_requests": peak_concurrency(successful),
    }
    for name, values in (("ttft", ttfts), ("tpot", tpots), ("itl", itls), ("e2el", e2els)):
        _metric_keys(result, name, values, chosen)
    queue_times = [record.queue_time for record in successful]
    result["mean_client_queue_time_ms"] = None if not queue_times else (mean(queue_times) or 0.0) * MS
    result["failures"] = failures_by_reason(records)
    return result


def _latency_figures(records: Sequence[RequestRecord]) -> dict[str, Any]:
    """What the fixed-prompt modes share: counts, end-to-end latency spread, mean TTFT and TPOT, failures."""
    successful = [record for record in records if record.success]
    latencies = summarize([record.latency or 0.0 for record in successful], (50.0, 90.0, 99.0), scale=MS)
    ttft = mean([record.ttft or 0.0 for record in successful])
    tpot = mean([value for record in successful if (value := record.tpot) is not None])
    figures: dict[str, Any] = {"completed": len(successful), "failed": len(records) - len(successful)}
    figures.update({f"{name}_latency_ms": latencies[name]
                    for name in ("mean", "median", "min", "max", "std", "p50", "p90", "p99")})
    figures.update({
        "mean_ttft_ms": None if ttft is None else ttft * MS,
        "mean_tpot_ms": None if tpot is None else tpot * MS,
        "mean_output_tokens": mean([float(_output_len(record)) for record in successful]),
        "failures": failures_by_reason(records),
    })
    return figures


def latency_metrics(records: Sequence[RequestRecord]) -> dict[str, Any]:
    """The `bench latency` keys: end-to-end latency of sequential requests, with mean TTFT and TPOT."""
    return {"runs": len(records), **_latency_figures(records)}


def concurrency_metrics(records: Sequence[RequestRecord], duration: float, concurrency: int) -> dict[str, Any]:
    """The `bench concurrency` keys: QPS, success rate (0–1) and latency spread under a fixed concurrency."""
    successful = [record for record in records if record.success]
    output = sum(_output_len(record) for record in successful)
    return {
        "requests": len(records),
        "concurrency": concurrency,
        "success_rate": len(successful) / len(records) if records else None,
        "duration": duration,
        "request_throughput": len(successful) / duration if duration > 0 else None,
        "output_throughput": output / duration if duration > 0 else None,
        "max_concurrent_requests": peak_concurrency(successful),
        **_latency_figures(records),
    }
