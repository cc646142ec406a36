"""What a vLLM server's `/metrics` page says, as values: queue, KV cache, token counters, latencies, rates.

vLLM (and vLLM-Ascend, which keeps vLLM's metrics) exports Prometheus text
exposition under the `vllm:` prefix (`vllm/v1/metrics/loggers.py`). The console
scrapes it every second or two to show running/waiting requests, KV-cache use
and live throughput without parsing the log's `Engine 000:` line, which is only
printed every 10 s and only while busy.

Three layers, each usable alone:

- `parse_exposition` reads the text format (0.0.4, and OpenMetrics' extras are
  tolerated): `# HELP`/`# TYPE`, `name{labels} value [timestamp]`, escaped label
  values, NaN and ±Inf. A line it cannot read is counted and skipped, never
  fatal: one odd line from a proxy must not blank the whole panel.
- `ServingMetrics` is one scrape reduced to the numbers the console shows,
  summed over label sets (several engines under data parallelism, several
  served names). A metric the server did not export is `None`, never 0.
- `MetricsRates.between` turns two scrapes into per-second rates and interval
  means; `MetricsHistory` keeps a bounded run of them for sparklines.

Names and units (checked against vLLM's PrometheusStatLogger): gauges
`vllm:num_requests_running`, `vllm:num_requests_waiting`,
`vllm:kv_cache_usage_perc` (since 0.9; before it `vllm:gpu_cache_usage_perc`;
both a 0–1 fraction despite "perc"); counters `vllm:prompt_tokens_total`,
`vllm:generation_tokens_total`, `vllm:request_success_total{finished_reason}`,
`vllm:num_preemptions_total`, `vllm:prefix_cache_{queries,hits}_total` (older:
`vllm:gpu_prefix_cache_…`); histograms `vllm:time_to_first_token_seconds` and
`vllm:e2e_request_latency_seconds` (`_sum`, `_count`).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

# ---------------------------------------------------------------- exposition format


@dataclass(frozen=True, slots=True)
class Sample:
    """One `name{labels} value [timestamp]` line."""

    name: str
    labels: tuple[tuple[str, str], ...]
    value: float
    timestamp_ms: int | None = None

    def label(self, name: str) -> str | None:
        """The value of label `name`, or None when the sample does not carry it."""
        for key, value in self.labels:
            if key == name:
                return value
        return None


@dataclass(frozen=True, slots=True)
class Exposition:
    """A parsed `/metrics` page: every sample in order, the declared types and help texts."""

    samples: tuple[Sample, ...]
    types: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    helps: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    skipped: int = 0
    """Lines that were neither a comment nor a readable sample (kept as a count for diagnostics)."""

    def named(self, name: str) -> list[Sample]:
        """All samples with exactly this name (every label set)."""
        return [sample for sample in self.samples if sample.name == name]

    def by_name(self) -> dict[str, list[Sample]]:
        """Samples grouped by name, for many look-ups in one page."""
        groups: dict[str, list[Sample]] = {}
        for sample in self.samples:
            groups.setdefault(sample.name, []).append(sample)
        return groups

    def has(self, name: str) -> bool:
        return any(sample.name == name for sample in self.samples)


class ExpositionError(ValueError):
    """A sample line that does not follow the text format (raised by `parse_sample_line` only)."""


def _is_name_start(char: str) -> bool:
    return char.isascii() and (char.isalpha() or char in "_:")


def _is_name_char(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char in "_:")


def _read_name(line: str, index: int) -> tuple[str, int]:
    start = index
    if index >= len(line) or not _is_name_start(line[index]):
        raise ExpositionError(f"expected a metric or label name at column {index + 1}")
    index += 1
    while index < len(line) and _is_name_char(line[index]):
        index += 1
    return line[start:index], index


def _skip_spaces(line: str, index: int) -> int:
    while index < len(line) and line[index] in " \t":
        index += 1
    return index


_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}


def _read_label_value(line: str, index: int) -> tuple[str, int]:
    """A double-quoted label value starting at `index` (the quote); `\\\\`, `\\"` and `\\n` unescaped."""
    if index >= len(line) or line[index] != '"':
        raise ExpositionError(f"expected '\"' at column {index + 1}")
    index += 1
    out: list[str] = []
    while index < len(line):
        char = line[index]
        if char == "\\" and index + 1 < len(line):
            following = line[index + 1]
            out.append(_ESCAPES.get(following, "\\" + following))
            index += 2
        elif char == '"':
            return "".join(out), index + 1
        else:
            out.append(char)
            index += 1
    raise ExpositionError("unterminated label value")


def _read_labels(line: str, index: int) -> tuple[tuple[tuple[str, str], ...], int]:
    """`{a="x",b="y",}` starting at `index` (the brace)."""
    labels: list[tuple[str, str]] = []
    index = _skip_spaces(line, index + 1)
    while index < len(line) and line[index] != "}":
        key, index = _read_name(line, index)
        index = _skip_spaces(line, index)
        if index >= len(line) or line[index] != "=":
            raise ExpositionError(f"expected '=' after label {key!r}")
        index = _skip_spaces(line, index + 1)
        value, index = _read_label_value(line, index)
        labels.append((key, value))
        index = _skip_spaces(line, index)
        if index < len(line) and line[index] == ",":
            index = _skip_spaces(line, index + 1)
        elif index < len(line) and line[index] != "}":
            raise ExpositionError(f"expected ',' or '}}' at column {index + 1}")
    if index >= len(line):
        raise ExpositionError("unterminated label set")
    return tuple(labels), index + 1


def parse_value(text: str) -> float:
    """A sample value: a float, `NaN`, `+Inf`, `-Inf` (Go's spellings; Python's `float` reads them all)."""
    try:
        return float(text)
    except ValueError:
        raise ExpositionError(f"not a number: {text!r}") from None


def parse_sample_line(line: str) -> Sample:
    """One sample line; raises `ExpositionError` when it is not one."""
    name, index = _read_name(line, _skip_spaces(line, 0))
    labels: tuple[tuple[str, str], ...] = ()
    index = _skip_spaces(line, index)
    if index < len(line) and line[index] == "{":
        labels, index = _read_labels(line, index)
    rest = line[index:]
    if "#" in rest:  # an OpenMetrics exemplar: `value [ts] # {trace_id="…"} 1.0`
        rest = rest.split("#", 1)[0]
    fields = rest.split()
    if not fields or len(fields) > 2:
        raise ExpositionError("expected a value and an optional timestamp after the name")
    timestamp: int | None = None
    if len(fields) == 2:
        try:
            timestamp = int(float(fields[1]))
        except ValueError:
            raise ExpositionError(f"not a timestamp: {fields[1]!r}") from None
    return Sample(name, labels, parse_value(fields[0]), timestamp)


def parse_exposition(text: str) -> Exposition:
    """Every sample of a Prometheus text page; unreadable lines are skipped and counted."""
    samples: list[Sample] = []
    types: dict[str, str] = {}
    helps: dict[str, str] = {}
    skipped = 0
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            parts = line[1:].split(None, 2)
            if len(parts) >= 3 and parts[0] == "TYPE":
                types[parts[1]] = parts[2].strip().lower()
            elif len(parts) >= 2 and parts[0] == "HELP":
                helps[parts[1]] = _unescape_help(parts[2]) if len(parts) == 3 else ""
            continue
        try:
            samples.append(parse_sample_line(line))
        except ExpositionError:
            skipped += 1
    return Exposition(tuple(samples), MappingProxyType(types), MappingProxyType(helps), skipped)


def _unescape_help(text: str) -> str:
    return text.replace("\\n", "\n").replace("\\\\", "\\")


# ---------------------------------------------------------------- one scrape

RUNNING = "vllm:num_requests_running"
WAITING = "vllm:num_requests_waiting"
KV_CACHE_USAGE = "vllm:kv_cache_usage_perc"
KV_CACHE_USAGE_OLD = "vllm:gpu_cache_usage_perc"
PROMPT_TOKENS = "vllm:prompt_tokens_total"
GENERATION_TOKENS = "vllm:generation_tokens_total"
REQUEST_SUCCESS = "vllm:request_success_total"
PREEMPTIONS = "vllm:num_preemptions_total"
PREFIX_QUERIES = ("vllm:prefix_cache_queries_total", "vllm:gpu_prefix_cache_queries_total")
PREFIX_HITS = ("vllm:prefix_cache_hits_total", "vllm:gpu_prefix_cache_hits_total")
TTFT = "vllm:time_to_first_token_seconds"
E2E = "vllm:e2e_request_latency_seconds"


def _finite(samples: Iterable[Sample]) -> list[float]:
    return [sample.value for sample in samples if math.isfinite(sample.value)]


def _total(groups: Mapping[str, list[Sample]], *names: str) -> float | None:
    """The sum over label sets of the first of `names` that is exported; None when none is (or all are NaN).

    Alternatives are for renamed metrics: when a server exports both the new
    and the deprecated name (vLLM 0.9–0.10 did), the new one wins rather than
    counting twice.
    """
    for name in names:
        values = _finite(groups.get(name, ()))
        if values:
            return sum(values)
    return None


def _count(value: float | None) -> int | None:
    return None if value is None else round(value)


@dataclass(frozen=True, slots=True)
class ServingMetrics:
    """One scrape of a vLLM server, reduced to what the console shows. `None` means "not exported".

    Gauges and counters are summed over label sets: with data parallelism each
    engine has its own `engine="N"` series, and the server as a whole is their
    sum. KV-cache usage is the exception: a fraction per engine, so the mean
    (each engine has the same cache size) and the fullest engine (where
    preemption starts) are kept instead.
    """

    running: int | None = None
    waiting: int | None = None
    kv_cache_usage: float | None = None
    """0–1, mean over engines."""
    kv_cache_usage_max: float | None = None
    """0–1, the fullest engine."""
    prompt_tokens_total: int | None = None
    generation_tokens_total: int | None = None
    request_success_total: int | None = None
    """Finished requests, every `finished_reason` (stop, length, abort) summed."""
    preemptions_total: int | None = None
    prefix_cache_queries_total: int | None = None
    prefix_cache_hits_total: int | None = None
    ttft_sum: float | None = None
    ttft_count: int | None = None
    e2e_sum: float | None = None
    e2e_count: int | None = None
    model_names: tuple[str, ...] = ()
    engines: int = 0
    """Distinct `engine` label values seen (0 when the server does not label engines)."""

    @classmethod
    def from_exposition(cls, exposition: Exposition) -> ServingMetrics:
        groups = exposition.by_name()
        usage = _finite(groups.get(KV_CACHE_USAGE, ())) or _finite(groups.get(KV_CACHE_USAGE_OLD, ()))
        models: dict[str, None] = {}
        engines: set[str] = set()
        for sample in exposition.samples:
            if not sample.name.startswith("vllm:"):
                continue
            model = sample.label("model_name")
            if model is not None:
                models.setdefault(model)
            engine = sample.label("engine")
            if engine is not None:
                engines.add(engine)
        return cls(
            running=_count(_total(groups, RUNNING)),
            waiting=_count(_total(groups, WAITING)),
            kv_cache_usage=sum(usage) / len(usage) if usage else None,
            kv_cache_usage_max=max(usage) if usage else None,
            prompt_tokens_total=_count(_total(groups, PROMPT_TOKENS)),
            generation_tokens_total=_count(_total(groups, GENERATION_TOKENS)),
            request_success_total=_count(_total(groups, REQUEST_SUCCESS)),
            preemptions_total=_count(_total(groups, PREEMPTIONS)),
            prefix_cache_queries_total=_count(_total(groups, *PREFIX_QUERIES)),
            prefix_cache_hits_total=_count(_total(groups, *PREFIX_HITS)),
            ttft_sum=_total(groups, f"{TTFT}_sum"),
            ttft_count=_count(_total(groups, f"{TTFT}_count")),
            e2e_sum=_total(groups, f"{E2E}_sum"),
            e2e_count=_count(_total(groups, f"{E2E}_count")),
            model_names=tuple(models),
            engines=len(engines),
        )

    @classmethod
    def from_text(cls, text: str) -> ServingMetrics:
        """Parse a `/metrics` page."""
        return cls.from_exposition(parse_exposition(text))

    @property
    def ttft_mean(self) -> float | None:
        """Mean time to first token since the server started, in seconds."""
        return _mean(self.ttft_sum, self.ttft_count)

    @property
    def e2e_mean(self) -> float | None:
        """Mean end-to-end request latency since the server started, in seconds."""
        return _mean(self.e2e_sum, self.e2e_count)


def _mean(total: float | None, count: int | None) -> float | None:
    if total is None or not count:
        return None
    return total / count


# ---------------------------------------------------------------- two scrapes


def _delta(earlier: float | None, later: float | None) -> float | None:
    """How much a counter grew; None when either side is unknown or it went down (the server restarted)."""
    if earlier is None or later is None or later < earlier:
        return None
    return later - earlier


@dataclass(frozen=True, slots=True)
class MetricsRates:
    """What happened between two scrapes: per-second rates and means over the requests that finished.

    A rate of 0.0 is a real observation (the server was idle); `None` means it
    cannot be known: a counter is not exported, went down (the server restarted
    between the scrapes, so the difference means nothing), or, for the means and
    the hit rate, nothing was counted in the interval.
    """

    seconds: float
    prompt_tokens_per_s: float | None = None
    generation_tokens_per_s: float | None = None
    requests_per_s: float | None = None
    mean_ttft_s: float | None = None
    mean_e2e_s: float | None = None
    prefix_cache_hit_rate: float | None = None
    """0–1 over the tokens queried in the interval."""
    restarted: bool = False
    """Some counter went down: the server behind the URL is a new process."""

    @classmethod
    def between(cls, earlier: ServingMetrics, later: ServingMetrics, seconds: float) -> MetricsRates:
        """The rates from `earlier` to `later`, `seconds` apart (by the caller's monotonic clock)."""
        counters = (
            (earlier.prompt_tokens_total, later.prompt_tokens_total),
            (earlier.generation_tokens_total, later.generation_tokens_total),
            (earlier.request_success_total, later.request_success_total),
            (earlier.ttft_count, later.ttft_count),
            (earlier.e2e_count, later.e2e_count),
            (earlier.prefix_cache_queries_total, later.prefix_cache_queries_total),
        )
        restarted = any(a is not None and b is not None and b < a for a, b in counters)
        if restarted:
            return cls(seconds=seconds, restarted=True)

        def per_second(a: float | None, b: float | None) -> float | None:
            grown = _delta(a, b)
            return None if grown is None or seconds <= 0 else grown / seconds

        def interval_mean(sum_a: float | None, sum_b: float | None, n_a: int | None, n_b: int | None) -> float | None:
            count = _delta(n_a, n_b)
            total = _delta(sum_a, sum_b)
            return None if not count or total is None else total / count

        queries = _delta(earlier.prefix_cache_queries_total, later.prefix_cache_queries_total)
        hits = _delta(earlier.prefix_cache_hits_total, later.prefix_cache_hits_total)
        return cls(
            seconds=seconds,
            prompt_tokens_per_s=per_second(earlier.prompt_tokens_total, later.prompt_tokens_total),
            generation_tokens_per_s=per_second(earlier.generation_tokens_total, later.generation_tokens_total),
            requests_per_s=per_second(earlier.request_success_total, later.request_success_total),
            mean_ttft_s=interval_mean(earlier.ttft_sum, later.ttft_sum, earlier.ttft_count, later.ttft_count),
            mean_e2e_s=interval_mean(earlier.e2e_sum, later.e2e_sum, earlier.e2e_count, later.e2e_count),
            prefix_cache_hit_rate=None if not queries or hits is None else min(1.0, hits / queries),
        )


@dataclass(frozen=True, slots=True)
class MetricsPoint:
    """One scrape in the history: when (monotonic seconds), what, and the rates since the previous one."""

    at: float
    metrics: ServingMetrics
    rates: MetricsRates | None


class MetricsHistory:
    """The last `maxlen` scrapes, each with its rates against the one before, for sparklines.

    Bounded (a deque), so a console left open for a week holds the same memory
    as after a minute. Times are the caller's monotonic clock.
    """

    def __init__(self, maxlen: int = 300) -> None:
        if maxlen < 1:
            raise ValueError("maxlen must be at least 1")
        self._points: deque[MetricsPoint] = deque(maxlen=maxlen)

    @property
    def maxlen(self) -> int:
        return self._points.maxlen or 0

    def add(self, at: float, metrics: ServingMetrics) -> MetricsPoint:
        """Record a scrape taken at monotonic time `at`; rates are None for the first one."""
        previous = self._points[-1] if self._points else None
        rates = None
        if previous is not None and at > previous.at:
            rates = MetricsRates.between(previous.metrics, metrics, at - previous.at)
        point = MetricsPoint(at, metrics, rates)
        self._points.append(point)
        return point

    @property
    def latest(self) -> MetricsPoint | None:
        return self._points[-1] if self._points else None

    def series(self, pick: Callable[[MetricsPoint], float | None]) -> list[float | None]:
        """One value per point, oldest first, e.g. `history.series(lambda p: p.metrics.kv_cache_usage)`."""
        return [pick(point) for point in self._points]

    def rate_series(self, pick: Callable[[MetricsRates], float | None]) -> list[float | None]:
        """One rate per point (None where a point has no rates), e.g. generation tokens/s."""
        return [None if point.rates is None else pick(point.rates) for point in self._points]

    def clear(self) -> None:
        """Forget everything (a different server was attached)."""
        self._points.clear()

    def __len__(self) -> int:
        return len(self._points)

    def __iter__(self) -> Iterator[MetricsPoint]:
        return iter(self._points)
