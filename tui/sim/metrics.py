"""Serving statistics: the `/metrics` page and the periodic `Engine 000:` log line.

Metric names, help texts, label sets and histogram buckets follow vLLM's
Prometheus logger, so a dashboard or a test that scrapes a real server reads the
sim unchanged. Counting is a few integer additions per request; rendering only
happens when someone asks.
"""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass, field

TTFT_BUCKETS = (
    0.001,
    0.005,
    0.01,
    0.02,
    0.04,
    0.06,
    0.08,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    20.0,
    40.0,
    80.0,
    160.0,
    640.0,
    2560.0,
)
E2E_BUCKETS = (
    0.3,
    0.5,
    0.8,
    1.0,
    1.5,
    2.0,
    2.5,
    5.0,
    10.0,
    15.0,
    20.0,
    30.0,
    40.0,
    50.0,
    60.0,
    120.0,
    240.0,
    480.0,
    960.0,
    1920.0,
    7680.0,
)
ITL_BUCKETS = (
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.4,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    20.0,
    40.0,
    80.0,
)
FINISH_REASONS = ("stop", "length", "abort", "error")


@dataclass
class Histogram:
    """A cumulative Prometheus histogram with fixed upper bounds."""

    buckets: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.buckets) + 1)

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value
        self.count += 1

    def render(self, name: str, labels: str) -> list[str]:
        lines = []
        cumulative = 0
        for bound, bucket_count in zip(self.buckets, self.counts, strict=False):
            cumulative += bucket_count
            lines.append(f'{name}_bucket{{{labels},le="{bound}"}} {float(cumulative)}')
        lines.append(f'{name}_bucket{{{labels},le="+Inf"}} {float(self.count)}')
        lines.append(f"{name}_count{{{labels}}} {float(self.count)}")
        lines.append(f"{name}_sum{{{labels}}} {self.total}")
        return lines


@dataclass
class ServingMetrics:
    """Everything counted since start, plus the window the stats line reports on."""

    model_name: str
    kv_cache_tokens: int
    block_size: int = 128
    running: int = 0
    waiting: int = 0
    kv_tokens_in_use: int = 0
    prompt_tokens: int = 0
    generation_tokens: int = 0
    prefix_queries: int = 0
    prefix_hits: int = 0
    finished: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FINISH_REASONS, 0))
    ttft: Histogram = field(default_factory=lambda: Histogram(TTFT_BUCKETS))
    e2e: Histogram = field(default_factory=lambda: Histogram(E2E_BUCKETS))
    itl: Histogram = field(default_factory=lambda: Histogram(ITL_BUCKETS))
    started_at: float = field(default_factory=time.time)
    _window_prompt: int = 0
    _window_generation: int = 0
    _window_queries: int = 0
    _window_hits: int = 0
    _previous_active: bool = False

    def kv_usage(self) -> float:
        """Fraction of the KV cache the running requests occupy (0..1)."""
        if self.kv_cache_tokens <= 0:
            return 0.0
        return min(1.0, self.kv_tokens_in_use / self.kv_cache_tokens)

    def add_prompt(self, tokens: int, cached_blocks: int, queried_blocks: int) -> None:
        self.prompt_tokens += tokens
        self._window_prompt += tokens
        self.prefix_queries += queried_blocks * self.block_size
        self.prefix_hits += cached_blocks * self.block_size
        self._window_queries += queried_blocks * self.block_size
        self._window_hits += cached_blocks * self.block_size

    def add_generated(self, tokens: int) -> None:
        self.generation_tokens += tokens
        self._window_generation += tokens

    def finish(self, reason: str, ttft_s: float, e2e_s: float, output_tokens: int) -> None:
        self.finished[reason if reason in self.finished else "error"] += 1
        self.ttft.observe(ttft_s)
        self.e2e.observe(e2e_s)
        if output_tokens > 1:
            self.itl.observe(max(0.0, e2e_s - ttft_s) / (output_tokens - 1))

    def stats_line(self, interval_s: float) -> str | None:
        """vLLM's `Engine 000: Avg prompt throughput …` for the window just ended.

        Like vLLM >= 0.8.5, a window with no traffic that followed another one
        with none is not worth an INFO line (None is returned).
        """
        active = bool(self._window_prompt or self._window_generation or self.running or self.waiting)
        line = None
        if active or self._previous_active:
            seconds = max(interval_s, 1e-9)
            hit_rate = 100.0 * self._window_hits / self._window_queries if self._window_queries else 0.0
            line = (
                f"Engine 000: Avg prompt throughput: {self._window_prompt / seconds:.1f} tokens/s, "
                f"Avg generation throughput: {self._window_generation / seconds:.1f} tokens/s, "
                f"Running: {self.running} reqs, Waiting: {self.waiting} reqs, "
                f"GPU KV cache usage: {100 * self.kv_usage():.1f}%, "
                f"Prefix cache hit rate: {hit_rate:.1f}%"
            )
        self._previous_active = active
        self._window_prompt = self._window_generation = 0
        self._window_queries = self._window_hits = 0
        return line

    def render(self) -> str:
        """The Prometheus text exposition of every vLLM metric the sim keeps."""
        labels = f'engine="0",model_name="{self.model_name}"'
        out: list[str] = []

        def metric(name: str, kind: str, help_text: str, rows: list[str]) -> None:
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} {kind}")
            out.extend(rows)

        metric(
            "vllm:num_requests_running",
            "gauge",
            "Number of requests in model execution batches.",
            [f"vllm:num_requests_running{{{labels}}} {float(self.running)}"],
        )
        metric(
            "vllm:num_requests_waiting",
            "gauge",
            "Number of requests waiting to be processed.",
            [f"vllm:num_requests_waiting{{{labels}}} {float(self.waiting)}"],
        )
        metric(
            "vllm:kv_cache_usage_perc",
            "gauge",
            "KV-cache usage. 1 means 100 percent usage.",
            [f"vllm:kv_cache_usage_perc{{{labels}}} {self.kv_usage()}"],
        )
        metric(
            "vllm:prefix_cache_queries_total",
            "counter",
            "Prefix cache queries, in terms of number of queried tokens.",
            [f"vllm:prefix_cache_queries_total{{{labels}}} {float(self.prefix_queries)}"],
        )
        metric(
            "vllm:prefix_cache_hits_total",
            "counter",
            "Prefix cache hits, in terms of number of cached tokens.",
            [f"vllm:prefix_cache_hits_total{{{labels}}} {float(self.prefix_hits)}"],
        )
        metric(
            "vllm:num_preemptions_total",
            "counter",
            "Cumulative number of preemption from the engine.",
            [f"vllm:num_preemptions_total{{{labels}}} 0.0"],
        )
        metric(
            "vllm:prompt_tokens_total",
            "counter",
            "Number of prefill tokens processed.",
            [f"vllm:prompt_tokens_total{{{labels}}} {float(self.prompt_tokens)}"],
        )
        metric(
            "vllm:generation_tokens_total",
            "counter",
            "Number of generation tokens processed.",
            [f"vllm:generation_tokens_total{{{labels}}} {float(self.generation_tokens)}"],
        )
        metric(
            "vllm:request_success_total",
            "counter",
            "Count of successfully processed requests.",
            [
                f'vllm:request_success_total{{{labels},finished_reason="{reason}"}} {float(count)}'
                for reason, count in self.finished.items()
                if reason != "error"
            ],
        )
        metric(
            "vllm:time_to_first_token_seconds",
            "histogram",
            "Histogram of time to first token in seconds.",
            self.ttft.render("vllm:time_to_first_token_seconds", labels),
        )
        metric(
            "vllm:inter_token_latency_seconds",
            "histogram",
            "Histogram of inter-token latency in seconds.",
            self.itl.render("vllm:inter_token_latency_seconds", labels),
        )
        metric(
            "vllm:e2e_request_latency_seconds",
            "histogram",
            "Histogram of e2e request latency in seconds.",
            self.e2e.render("vllm:e2e_request_latency_seconds", labels),
        )
        metric(
            "vllm:cache_config_info",
            "gauge",
            "Information of the LLMEngine CacheConfig",
            [
                f'vllm:cache_config_info{{block_size="{self.block_size}",engine="0",'
                f'num_gpu_blocks="{self.kv_cache_tokens // max(1, self.block_size)}"}} 1.0'
            ],
        )
        return "\n".join(out) + "\n"
