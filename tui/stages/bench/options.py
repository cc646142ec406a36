"""The benchmark's command line, shared by the stage (`python -m tui.stages.bench`) and `npu-console bench`.

One definition, so the console, the CLI and a shell script spell every option the same way; names
follow `vllm bench serve` where it has one. Defaults are the profile's (`tui.profile.model`).
`to_stage_argv` turns parsed options back into the stage's argv (the CLI runs the stage as a
subprocess, as the console does).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path

from tui.arg_types import bounded, non_negative_int, positive_float, positive_int, seconds
from tui.profile.model import ConcurrencyBench, LatencyBench, ServeBench
from tui.stages.bench.limits import CONNECT_TIMEOUT_S, FIRST_BYTE_TIMEOUT_S, IDLE_TIMEOUT_S, TOTAL_TIMEOUT_S
from tui.stages.server_options import add_server_arguments

MODES = ("latency", "concurrency", "serve")
GOODPUT_NAMES = ("ttft", "tpot", "e2el")
_requests_per_second = bounded(float, "requests per second or 'inf'", above=0)


def request_rate(text: str) -> float:
    """`R` requests/s above 0, or `inf` (everything at once)."""
    if text.strip().lower() in ("inf", "infinity"):
        return math.inf
    return _requests_per_second(text)


def percentiles(text: str) -> tuple[float, ...]:
    """`50,90,99` → (50.0, 90.0, 99.0), each in [0, 100]."""
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected percentiles like 50,90,99, got {text!r}") from None
    if not values or any(not 0 <= value <= 100 for value in values):
        raise argparse.ArgumentTypeError(f"percentiles must lie between 0 and 100, got {text!r}")
    return values


def goodput_slo(text: str) -> tuple[str, float]:
    """`ttft:MS`, `tpot:MS` or `e2el:MS` (milliseconds, at least 0)."""
    name, colon, value = text.partition(":")
    name = name.strip().lower()
    if not colon or name not in GOODPUT_NAMES:
        raise argparse.ArgumentTypeError(f"expected ttft:MS, tpot:MS or e2el:MS, got {text!r}")
    try:
        slo = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected milliseconds after {name}:, got {value!r}") from None
    if slo < 0 or math.isnan(slo):
        raise argparse.ArgumentTypeError(f"an SLO cannot be negative, got {text!r}")
    return name, slo


def header(text: str) -> tuple[str, str]:
    """`Key:Value` → (Key, Value)."""
    key, colon, value = text.partition(":")
    if not colon or not key.strip():
        raise argparse.ArgumentTypeError(f"expected a header as Key:Value, got {text!r}")
    return key.strip(), value.strip()


def workers(text: str) -> int | None:
    """`auto` (None: one process per 256 streams, at most one per core) or a number of processes."""
    return None if text.strip().lower() == "auto" else positive_int(text)


def add_common(parser: argparse.ArgumentParser, endpoint_default: str) -> None:
    add_server_arguments(parser)
    parser.add_argument("--endpoint", choices=("completions", "chat"), default=endpoint_default,
                        help=f"/v1/completions or /v1/chat/completions (default {endpoint_default})")
    parser.add_argument("--header", type=header, action="append", default=[], metavar="K:V",
                        help="an extra request header (repeatable), e.g. an auth header")
    parser.add_argument("--label", metavar="TEXT", help="a name for this run in results and comparisons")
    parser.add_argument("--seed", type=int, default=0, help="seed of the dataset and arrival times (default 0)")
    parser.add_argument("--workers", type=workers, default=None, metavar="N|auto",
                        help="load-generator processes (default auto: one per 256 streams, at most one per core)")
    parser.add_argument("--timeout", type=seconds, default=TOTAL_TIMEOUT_S, metavar="S",
                        help=f"longest a single request may take, in seconds (default {TOTAL_TIMEOUT_S:g})")
    parser.add_argument("--connect-timeout", type=seconds, default=CONNECT_TIMEOUT_S, metavar="S",
                        help=f"longest wait for a connection, in seconds (default {CONNECT_TIMEOUT_S:g})")
    parser.add_argument("--first-byte-timeout", type=seconds, default=FIRST_BYTE_TIMEOUT_S, metavar="S",
                        help="longest wait from sending a request to the first bytes of its reply, in seconds "
                             f"(default {FIRST_BYTE_TIMEOUT_S:g})")
    parser.add_argument("--idle-timeout", type=seconds, default=IDLE_TIMEOUT_S, metavar="S",
                        help=f"longest silence in the middle of a reply, in seconds (default {IDLE_TIMEOUT_S:g})")
    parser.add_argument("--result-json", type=Path, metavar="F", help="also write the result object to F")


def add_mode_arguments(parser: argparse.ArgumentParser, mode: str) -> None:
    """The options of `mode` (latency, concurrency, serve) on `parser`."""
    if mode in ("latency", "concurrency"):
        fixed = LatencyBench() if mode == "latency" else ConcurrencyBench()
        add_common(parser, "chat")
        parser.add_argument("--prompt", default=fixed.prompt, metavar="P", help="the prompt of every request")
        parser.add_argument("--max-tokens", type=positive_int, default=fixed.max_tokens, metavar="N",
                            help=f"tokens to generate per request (default {fixed.max_tokens})")
        if isinstance(fixed, LatencyBench):
            parser.add_argument("--runs", type=positive_int, default=fixed.runs, metavar="N",
                                help=f"sequential requests (default {fixed.runs})")
        else:
            parser.add_argument("--requests", type=positive_int, default=fixed.requests, metavar="N",
                                help=f"requests in all (default {fixed.requests})")
            parser.add_argument("--concurrency", type=positive_int, default=fixed.concurrency, metavar="C",
                                help=f"requests in flight at once (default {fixed.concurrency})")
    elif mode == "serve":
        serve = ServeBench()
        add_common(parser, serve.endpoint)
        parser.add_argument("--tokenizer", type=Path, metavar="DIR",
                            help="the model folder whose tokenizer builds the prompts (default: the served "
                                 "model's folder when local, else the server's /tokenize)")
        parser.add_argument("--num-prompts", type=positive_int, default=serve.num_prompts, metavar="N",
                            help=f"requests in all (default {serve.num_prompts})")
        parser.add_argument("--random-input-len", type=positive_int, default=serve.random_input_len, metavar="I",
                            help=f"prompt tokens (default {serve.random_input_len})")
        parser.add_argument("--random-output-len", type=positive_int, default=serve.random_output_len, metavar="O",
                            help=f"output tokens (default {serve.random_output_len})")
        parser.add_argument("--random-range-ratio", type=float, default=0.0, metavar="R",
                            help="lengths drawn from [L(1-R), L(1+R)] (default 0: exact)")
        parser.add_argument("--request-rate", type=request_rate, default=serve.request_rate, metavar="R|inf",
                            help="requests per second, Poisson or gamma arrivals (default inf: all at once)")
        parser.add_argument("--burstiness", type=positive_float, default=serve.burstiness, metavar="B",
                            help="gamma shape of the gaps: 1 Poisson, higher more even (default 1)")
        parser.add_argument("--max-concurrency", type=positive_int, default=serve.max_concurrency, metavar="C",
                            help="cap on requests in flight (default: none)")
        parser.add_argument("--ignore-eos", action=argparse.BooleanOptionalAction, default=False,
                            help="force the output length: ignore_eos with min and max tokens, as vLLM's "
                                 "random dataset is meant to run (default off, as in vllm bench serve)")
        parser.add_argument("--warmup", type=non_negative_int, default=serve.warmup, metavar="N",
                            help="requests sent first and left out of the figures (default 0)")
        parser.add_argument("--percentiles", type=percentiles, default=serve.percentiles, metavar="50,90,99",
                            help="percentiles to report (99 is always reported)")
        parser.add_argument("--goodput", type=goodput_slo, nargs="+", metavar="NAME:MS",
                            help="SLOs for goodput: ttft:MS tpot:MS e2el:MS")
    else:
        raise ValueError(f"unknown benchmark mode {mode!r}")


def add_compare_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("a", type=Path, metavar="A.json", help="the first result (the baseline)")
    parser.add_argument("b", type=Path, metavar="B.json", help="the second result, compared with the first")
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")


def to_stage_argv(args: argparse.Namespace, mode: str) -> list[str]:
    """The stage's argv for `mode` from options parsed by a parser built with `add_mode_arguments`."""
    parser = argparse.ArgumentParser(add_help=False)
    add_mode_arguments(parser, mode)
    argv = [mode]
    for action in parser._actions:  # the parser defines every option; its actions say how each is spelled
        if not action.option_strings:
            continue
        value = getattr(args, action.dest, None)
        option = action.option_strings[0]
        if value is None or (isinstance(value, list) and not value):
            continue
        if isinstance(action, argparse.BooleanOptionalAction):
            argv.append(option if value else "--no-" + option[2:])
        elif action.dest == "header":
            for key, text in value:
                argv += [option, f"{key}:{text}"]
        elif action.dest == "goodput":
            argv += [option, *(f"{name}:{slo:g}" for name, slo in value)]
        elif action.dest == "percentiles":
            argv += [option, ",".join(f"{percent:g}" for percent in value)]
        elif action.dest == "workers":
            argv += [option, str(value)]
        elif isinstance(value, Sequence) and not isinstance(value, str):
            argv += [option, *map(str, value)]
        else:
            argv += [option, str(value)]
    return argv
