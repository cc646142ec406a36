"""The accuracy stage's command line, shared by `python -m tui.stages.accuracy` and `npu-console accuracy`.

One definition, so the console, the CLI and a shell script spell every option the same way. The
defaults are what operators report for GSM8K on Ascend: the first 200 test problems, 4-shot chain of
thought in chat form, at most 512 output tokens, temperature 0 (`tui.profile.model.AccuracySettings`
holds the same values for profiles). `to_stage_argv` turns parsed options back into the stage's argv.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tui.arg_types import bounded, positive_int, seconds, top_p
from tui.stages.accuracy.dataset import DATASETS
from tui.stages.accuracy.graders import GRADERS
from tui.stages.server_options import add_server_arguments

DEFAULT_LIMIT = 200
DEFAULT_SHOTS = 4
DEFAULT_MAX_TOKENS = 512
DEFAULT_CONCURRENCY = 8
DEFAULT_TIMEOUT_S = 600.0
MAX_SHOTS = 16


shots = bounded(int, "a whole number", at_least=0, at_most=MAX_SHOTS)
temperature = bounded(float, "a temperature", at_least=0, at_most=2)


def limit(text: str) -> int | None:
    """`N` problems (at least 1), or `all` for the whole split (None)."""
    return None if text.strip().lower() == "all" else positive_int(text)


def add_run_arguments(parser: argparse.ArgumentParser, *, url_required: bool = True) -> None:
    """The options of one accuracy run (the stage requires --url; the CLI checks it itself)."""
    add_server_arguments(parser, url_required=url_required)
    parser.add_argument("--dataset", choices=DATASETS, default="gsm8k", help="the dataset (default gsm8k)")
    parser.add_argument("--limit", type=limit, default=DEFAULT_LIMIT, metavar="N|all",
                        help=f"the first N test problems, or all (default {DEFAULT_LIMIT}, as operators report)")
    parser.add_argument("--shots", type=shots, default=DEFAULT_SHOTS, metavar="K",
                        help=f"worked examples before each problem, 0 to {MAX_SHOTS} (default {DEFAULT_SHOTS})")
    parser.add_argument("--grader", choices=GRADERS, default="aisbench",
                        help="how the answer is read from the reply (default aisbench: the last number)")
    form = parser.add_mutually_exclusive_group()
    form.add_argument("--chat", dest="mode", action="store_const", const="chat",
                      help="chat requests, the examples as turns (the default)")
    form.add_argument("--completion", dest="mode", action="store_const", const="completion",
                      help="completion requests, one text prompt (base models)")
    parser.set_defaults(mode="chat")
    parser.add_argument("--max-tokens", type=positive_int, default=DEFAULT_MAX_TOKENS, metavar="N",
                        help=f"output tokens per problem (default {DEFAULT_MAX_TOKENS})")
    parser.add_argument("--temperature", type=temperature, default=0.0, metavar="T",
                        help="sampling temperature (default 0: greedy)")
    parser.add_argument("--top-p", type=top_p, default=None, metavar="P", help="top_p (default: not sent)")
    parser.add_argument("--concurrency", type=positive_int, default=DEFAULT_CONCURRENCY, metavar="C",
                        help=f"requests in flight (default {DEFAULT_CONCURRENCY})")
    parser.add_argument("--stream", action=argparse.BooleanOptionalAction, default=False,
                        help="stream each reply (default off: whole replies)")
    parser.add_argument("--timeout", type=seconds, default=DEFAULT_TIMEOUT_S, metavar="S",
                        help=f"seconds one request may take in all (default {DEFAULT_TIMEOUT_S:g})")
    parser.add_argument("--json", type=Path, metavar="F", dest="result_json",
                        help="also write the result object to F (atomically)")


def to_stage_argv(args: argparse.Namespace) -> list[str]:
    """The stage's argv from options parsed by a parser built with `add_run_arguments`."""
    argv = ["--url", args.url, "--dataset", args.dataset, "--grader", args.grader, f"--{args.mode}",
            "--limit", "all" if args.limit is None else str(args.limit), "--shots", str(args.shots),
            "--max-tokens", str(args.max_tokens), "--temperature", repr(args.temperature),
            "--concurrency", str(args.concurrency), "--timeout", repr(args.timeout),
            "--stream" if args.stream else "--no-stream"]
    for option, value in (("--model", args.model), ("--top-p", args.top_p), ("--api-key-env", args.api_key_env),
                          ("--json", args.result_json)):
        if isinstance(value, Path):  # the stage may run from another folder
            value = value.expanduser().absolute()
        if value is not None:
            argv += [option, str(value)]
    return argv
