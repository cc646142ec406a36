"""The server's own account of a benchmark: `/metrics` read before and after, as a difference.

The client's figures include the network and the client; the server's counters
(`vllm:prompt_tokens_total`, `vllm:generation_tokens_total`, `vllm:request_success_total`, the TTFT
and end-to-end histograms) do not. Shown side by side, a gap between them says where time went.
Parsing and the interval arithmetic are `tui.server.serving_metrics`, shared with the serving panel.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import aiohttp

from tui.api.metrics_fetch import metrics_url
from tui.server.serving_metrics import MetricsRates, ServingMetrics

TIMEOUT_S = 5.0


async def scrape(session: aiohttp.ClientSession, base_url: str,
                 headers: Mapping[str, str] | None = None) -> ServingMetrics | str:
    """One bounded scrape of `/metrics`, or the sentence saying why there is none."""
    url = metrics_url(base_url)
    try:
        async with session.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)) as response:
            if response.status != 200:
                return f"{url} answered HTTP {response.status}; the server exports no Prometheus metrics there"
            text = await response.text(errors="replace")
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        return f"reading {url} failed: {exc or type(exc).__name__}"
    metrics = ServingMetrics.from_text(text)
    if metrics.generation_tokens_total is None and metrics.request_success_total is None:
        return f"{url} has no vllm:* token counters; is this a vLLM server?"
    return metrics


async def server_version(session: aiohttp.ClientSession, base_url: str,
                         headers: Mapping[str, str] | None = None) -> str | None:
    """vLLM's `GET /version` (`{"version": "0.11.0"}`), or None from a server that has none: never raises."""
    url = f"{metrics_url(base_url).removesuffix('/metrics')}/version"
    try:
        async with session.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)) as response:
            data = await response.json(content_type=None) if response.status == 200 else None
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError):
        return None
    version = data.get("version") if isinstance(data, dict) else None
    return str(version) if isinstance(version, (str, int, float)) else None


def unavailable(message: str) -> dict[str, Any]:
    """The `server_metrics` block when the server gave nothing to compare with."""
    return {"available": False, "message": message, "prompt_tokens": None, "generation_tokens": None,
            "requests": None, "mean_ttft_ms": None, "mean_e2el_ms": None, "output_throughput": None}


def server_delta(before: ServingMetrics | str, after: ServingMetrics | str, duration: float) -> dict[str, Any]:
    """What the server counted between the two scrapes; `duration` is the client's run duration.

    The server's output throughput divides its generated-token count by the client's duration, so it
    compares directly with the client's `output_throughput`.
    """
    if isinstance(before, str):
        return unavailable(before)
    if isinstance(after, str):
        return unavailable(after)
    rates = MetricsRates.between(before, after, duration)
    if rates.restarted:
        return unavailable("the server's counters went down during the run: it restarted")

    def grown(a: int | None, b: int | None) -> int | None:
        return None if a is None or b is None else b - a

    generated = grown(before.generation_tokens_total, after.generation_tokens_total)
    return {
        "available": True,
        "message": None,
        "prompt_tokens": grown(before.prompt_tokens_total, after.prompt_tokens_total),
        "generation_tokens": generated,
        "requests": grown(before.request_success_total, after.request_success_total),
        "mean_ttft_ms": None if rates.mean_ttft_s is None else rates.mean_ttft_s * 1000,
        "mean_e2el_ms": None if rates.mean_e2e_s is None else rates.mean_e2e_s * 1000,
        "output_throughput": None if generated is None or duration <= 0 else generated / duration,
    }
