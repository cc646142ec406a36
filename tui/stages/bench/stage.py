"""The three benchmark modes end to end: resolve the model, build the requests, run, measure, report.

`run_benchmark(args, mode)` is the whole stage for one parsed command line; `__main__` wraps it with
the JSON-lines protocol and exit statuses. Progress goes out about four times a second with the
live figures the console shows (`req_s`, `tok_s`, TTFT p50/p99, failures, in flight, client CPU).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import platform
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import aiohttp

from tui.files.atomic import atomic_write_json
from tui.stages.bench import dataset as datasets
from tui.stages.bench import server_side, warmth
from tui.stages.bench.arrivals import arrival_offsets
from tui.stages.bench.loadgen import LoadPlan, RequestSpec, RunOutcome, Tick, make_session, run_load
from tui.stages.bench.metrics import (
    concurrency_metrics,
    failures_by_reason,
    first_errors,
    latency_metrics,
    serve_metrics,
    with_p99,
)
from tui.stages.bench.records import RecordsFile, RequestRecord
from tui.stages.bench.sharding import auto_workers, run_sharded
from tui.stages.bench.stats import PERCENTILE_METHOD, percentile
from tui.stages.entry import StageRunError
from tui.stages.events import emit_log, emit_progress, stage_folder
from tui.stages.server_options import api_key_headers, server_root
from tui.stages.stage_args import has_tokenizer

META_TIMEOUT_S = 10.0
LIVE_WINDOW = 2048
"""The live TTFT percentiles cover the most recent requests; the result covers them all."""
ENDPOINT_PATHS = {"completions": "/v1/completions", "chat": "/v1/chat/completions"}
TEXT_PROMPT_TOKENS = None  # the fixed-prompt modes learn the prompt's length from the server's usage


class BenchError(StageRunError):
    """The benchmark could not run or nothing succeeded; `exit_code` 1 (failed) or 2 (bad input)."""


def request_headers(args: argparse.Namespace) -> dict[str, str]:
    """The API key's headers, then the operator's `--header`s."""
    headers = api_key_headers(args.api_key_env)
    for name, value in args.header:
        headers[name] = value
    return headers


async def served_models(root: str, headers: Mapping[str, str]) -> list[dict[str, Any]]:
    """The entries of `/v1/models`, or a failure that says why there are none."""
    url = f"{root}/v1/models"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=META_TIMEOUT_S)) as session, \
                session.get(url, headers=dict(headers)) as response:
            if response.status in (401, 403):
                raise BenchError(f"{url} answered HTTP {response.status}; pass the API key with --api-key-env VAR")
            if response.status != 200:
                raise BenchError(f"{url} answered HTTP {response.status}; is {root} an OpenAI-compatible server?")
            data = await response.json(content_type=None)
    except aiohttp.ClientConnectorError as exc:
        if isinstance(exc.os_error, ConnectionRefusedError):
            raise BenchError(f"nothing answers at {root}; is the server up?") from exc
        raise BenchError(f"cannot connect to {root}: {exc.os_error or exc}; check the URL") from exc
    except asyncio.TimeoutError as exc:
        raise BenchError(f"{url} did not answer within {META_TIMEOUT_S:g} s; the server may be hung") from exc
    except (aiohttp.ClientError, ValueError) as exc:
        raise BenchError(f"reading {url} failed ({exc}); is {root} an OpenAI-compatible server?") from exc
    entries = data.get("data") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise BenchError(f"{url} lists no model; pass --model NAME")
    return [entry for entry in entries if isinstance(entry, dict)]


def request_body(endpoint: str, model: str, prompt: str, max_tokens: int, ignore_eos: bool) -> bytes:
    """The JSON body of one streamed request, serialised once before the run (vLLM's payload fields)."""
    body: dict[str, Any] = {"model": model, "stream": True, "stream_options": {"include_usage": True}}
    if endpoint == "chat":
        body["messages"] = [{"role": "user", "content": prompt}]
        body["max_completion_tokens"] = max_tokens
    else:
        body["prompt"] = prompt
        body["max_tokens"] = max_tokens
    if ignore_eos:
        body["ignore_eos"] = True
        body["min_tokens"] = max_tokens
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _codec(args: argparse.Namespace, root: str, model: str, entries: list[dict[str, Any]],
           headers: Mapping[str, str]) -> datasets.TokenCodec:
    """The tokenizer that builds the prompts: --tokenizer, else the served model's local folder, else /tokenize."""
    if args.tokenizer is not None:
        if not args.tokenizer.is_dir():
            raise BenchError(f"--tokenizer {args.tokenizer} is not a folder; pass the model folder", 2)
        return datasets.LocalTokenizer(args.tokenizer)
    for entry in entries:
        folder = Path(str(entry.get("root") or entry.get("id") or ""))
        if entry.get("id") == model and has_tokenizer(folder):
            try:
                local = datasets.LocalTokenizer(folder)
                if local.allowed_ids():
                    return local
            except datasets.DatasetError as exc:
                emit_log(f"the served model's own tokenizer is unusable ({exc}); asking the server instead", "warning")
    codec = datasets.ServerTokenizer(root, model, {k: v for k, v in headers.items() if k != "Content-Type"})
    try:
        codec.encode("hello")
    except datasets.DatasetError as exc:
        raise BenchError(f"no tokenizer for the prompts: {exc}", 2) from exc
    return codec


class Live:
    """Turns load-generator ticks into progress events and flushes the records file with each one."""

    def __init__(self, total: int, records: RecordsFile | None) -> None:
        self.total = total
        self.records = records

    def __call__(self, tick: Tick) -> None:
        if self.records is not None:
            self.records.flush_soon()
        ttfts = tick.ttfts[-LIVE_WINDOW:]  # sorting every TTFT four times a second would cost the generator CPU
        p50 = percentile(ttfts, 50)
        p99 = percentile(ttfts, 99)
        elapsed = tick.elapsed if tick.elapsed > 0 else None
        emit_progress(
            tick.done, self.total, "request", f"{tick.done}/{self.total} requests, {tick.failed} failed",
            req_s=None if elapsed is None else (tick.done - tick.failed) / elapsed,
            tok_s=None if elapsed is None else tick.output_tokens / elapsed,
            ttft_p50_ms=None if p50 is None else p50 * 1000, ttft_p99_ms=None if p99 is None else p99 * 1000,
            failed=tick.failed, in_flight=tick.in_flight, client_cpu_pct=tick.cpu_pct,
        )


async def _run(plan: LoadPlan, workers: int | None, in_flight: int, records: list[RequestRecord],
               live: Live, session: aiohttp.ClientSession) -> RunOutcome:
    count = workers if workers is not None else auto_workers(in_flight)

    def keep(record: RequestRecord) -> None:
        records.append(record)
        if live.records is not None:
            live.records.add([record])

    try:
        return await run_sharded(plan, count, keep, live, session)
    except RuntimeError as exc:
        raise BenchError(f"the load generator failed: {exc}") from exc


async def _without_refused_fields(specs: list[RequestSpec], prompts: tuple[datasets.Prompt, ...],
                                  args: argparse.Namespace, model: str, template: LoadPlan,
                                  session: aiohttp.ClientSession, sent: list[RequestRecord]) -> list[RequestSpec]:
    """vLLM's initial test request; when the server refuses `ignore_eos`/`min_tokens`, the requests go without.

    vLLM's extensions are unknown to other servers (`transformers serve` answers 422 "Unexpected
    fields"); the run then goes on with the output length only capped by max tokens, and the result
    says the length was not forced rather than pretending it was.
    """
    probe = await _warm_up(dataclasses.replace(template, specs=specs[:1], concurrency=1), session)
    sent += probe
    refused = probe and not probe[0].success and probe[0].status in (400, 422) and any(
        field in (probe[0].error or "") for field in ("ignore_eos", "min_tokens"))
    if not refused:
        return specs
    emit_log(f"the server refuses ignore_eos/min_tokens ({probe[0].error}); sending without them, so the output "
             "length is only capped, not forced", "warning")
    return [RequestSpec(request_body(args.endpoint, model, prompt.text, prompt.output_len, False), prompt.prompt_len,
                        prompt.output_len) for prompt in prompts]


async def _warm_up(plan: LoadPlan, session: aiohttp.ClientSession) -> list[RequestRecord]:
    """Requests sent before the measured run, on its session (their connections stay open for it)."""
    sent: list[RequestRecord] = []
    await run_load(plan, sent.append, session=session)
    for record in sent:
        record.warmup = True
    return sent


def _json_float(value: float) -> float | str:
    return "inf" if math.isinf(value) else value


async def run_benchmark(args: argparse.Namespace, mode: str) -> dict[str, Any]:
    """Run `mode` with the parsed options and return the result object (raises `BenchError`)."""
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    headers = request_headers(args)
    root = server_root(args.url)
    entries = await served_models(root, headers) if args.model is None else []
    model = args.model or str(entries[0].get("id"))
    url = root + ENDPOINT_PATHS[args.endpoint]
    folder = stage_folder()
    records_path = Path(folder) / "requests.jsonl" if folder else None
    records_file = RecordsFile(records_path) if records_path is not None else None

    extras: dict[str, Any] = {}
    offsets = None
    if mode == "latency":
        spec = RequestSpec(request_body(args.endpoint, model, args.prompt, args.max_tokens, False),
                           TEXT_PROMPT_TOKENS, args.max_tokens)
        specs = [spec] * args.runs
        concurrency: int | None = 1
    elif mode == "concurrency":
        spec = RequestSpec(request_body(args.endpoint, model, args.prompt, args.max_tokens, False),
                           TEXT_PROMPT_TOKENS, args.max_tokens)
        specs = [spec] * args.requests
        concurrency = args.concurrency
    else:
        if args.model is not None and args.tokenizer is None:
            try:  # only to find the served model's own folder; a server that lists nothing is no failure here
                entries = await served_models(root, headers)
            except BenchError:
                entries = []
        try:
            codec = await asyncio.to_thread(_codec, args, root, model, entries, headers)
            built = await asyncio.to_thread(
                datasets.random_dataset, codec, args.num_prompts, args.random_input_len, args.random_output_len,
                range_ratio=args.random_range_ratio, seed=args.seed)
        except datasets.DatasetError as exc:
            raise BenchError(str(exc), 2) from exc
        emit_log(f"{len(built.prompts)} random prompts of {args.random_input_len} tokens from {built.source}"
                 + (f"; {built.inexact} could not be made exact" if built.inexact else ""))
        specs = [RequestSpec(request_body(args.endpoint, model, prompt.text, prompt.output_len, args.ignore_eos),
                             prompt.prompt_len, prompt.output_len) for prompt in built.prompts]
        concurrency = args.max_concurrency
        offsets = arrival_offsets(len(specs), args.request_rate, args.burstiness, seed=args.seed)
        extras = {"dataset_source": built.source, "inexact_prompts": built.inexact}

    template = LoadPlan(url=url, specs=specs, headers=headers, concurrency=concurrency, timeout_s=args.timeout,
                        connect_timeout_s=args.connect_timeout, first_byte_timeout_s=args.first_byte_timeout,
                        idle_timeout_s=args.idle_timeout)
    async with aiohttp.ClientSession() as meta:
        before = await server_side.scrape(meta, root, headers)
        version = await server_side.server_version(meta, root, headers)
    warm: list[RequestRecord] = []
    records: list[RequestRecord] = []
    async with make_session(concurrency, args.connect_timeout) as session:
        if mode == "serve":
            if args.ignore_eos:
                specs = await _without_refused_fields(specs, built.prompts, args, model, template, session, warm)
                template = dataclasses.replace(template, specs=specs)
            extras["ignore_eos_sent"] = b'"ignore_eos":true' in specs[0].body
            if args.warmup:
                emit_log(f"warming up with {args.warmup} request(s), left out of the figures")
                sent = await _warm_up(dataclasses.replace(template, specs=[specs[0]] * args.warmup), session)
                if not any(record.success for record in sent):
                    emit_log(f"every warmup request failed: {first_errors(sent, 1)}", "warning")
                warm += sent
        if warm:  # the server's figures cover the measured requests only
            async with aiohttp.ClientSession() as meta:
                before = await server_side.scrape(meta, root, headers)
        if records_file is not None:
            records_file.add(warm)
        in_flight = concurrency or len(specs)
        plan = dataclasses.replace(template, offsets=offsets)
        outcome = await _run(plan, args.workers if mode != "latency" else 1, in_flight, records,
                             Live(len(specs), records_file), session)
    async with aiohttp.ClientSession() as meta:
        after = await server_side.scrape(meta, root, headers)
    if records_file is not None:
        records_file.close()
    records.sort(key=lambda record: record.index)
    cold = warmth.cold_start(before)
    bursts, multi = warmth.burst_replies(records)
    notes = warmth.notes(cold, len(warm), bursts, multi, can_warm_up=mode == "serve")

    if mode == "latency":
        result = latency_metrics(records)
    elif mode == "concurrency":
        result = concurrency_metrics(records, outcome.duration, args.concurrency)
    else:
        goodput = dict(args.goodput) if args.goodput else None
        result = serve_metrics(records, outcome.duration, with_p99(args.percentiles), goodput)
        successful = [record for record in records if record.success]
        forced = extras["ignore_eos_sent"] and bool(successful) and all(
            record.output_tokens_source == "usage" and record.output_tokens == record.expected_output_len
            for record in successful)
        result.update({
            "max_concurrency": args.max_concurrency,
            "request_rate": _json_float(args.request_rate),
            "burstiness": _json_float(args.burstiness),
            "num_prompts": args.num_prompts,
            "input_len": args.random_input_len,
            "output_len": args.random_output_len,
            "endpoint": args.endpoint,
            "ignore_eos": args.ignore_eos,
            "goodput": goodput,
            "output_len_forced": forced,
            "warmup": args.warmup,
            **extras,
        })
    result.update({
        "mode": mode,
        "label": args.label,
        "url": root,
        "model": model,
        "started_at": started_at,
        "workers": outcome.workers,
        "client_bound": outcome.client_bound,
        "client_cpu_max_pct": outcome.cpu_max_pct,
        "percentile_method": PERCENTILE_METHOD,
        "output_tokens_estimated": any(r.output_tokens_source == "chunks" for r in records if r.success),
        "requests_file": str(records_path) if records_path is not None else None,
        "server_metrics": server_side.server_delta(before, after, outcome.duration),
        "server_version": version,
        "client_versions": {"python": platform.python_version(), "aiohttp": aiohttp.__version__},
        "warmup_requests": len(warm),
        "cold_start": cold,
        "server_requests_before": None if isinstance(before, str) else before.request_success_total,
        "burst_replies": bursts,
        "notes": notes,
    })
    for error in first_errors(records):
        emit_log(error, "warning")
    for note in notes:
        emit_log(note, "warning")
    if outcome.client_bound:
        emit_log(f"the client used {outcome.cpu_max_pct:.0f}% of a core: latencies include client time; "
                 "rerun with more --workers", "warning")
    if args.result_json is not None:
        atomic_write_json(args.result_json, result)
    if not result["completed"]:
        reasons = ", ".join(f"{count} × {reason}" for reason, count in failures_by_reason(records).items())
        first = first_errors(records, 1)
        raise BenchError(f"no request succeeded ({reasons})" + (f": {first[0]}" if first else ""), 1, result)
    return result
