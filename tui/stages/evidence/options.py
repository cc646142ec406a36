"""The evidence stage's options, shared by `python -m tui.stages.evidence` and `npu-console evidence`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from tui.arg_types import positive_int, seconds
from tui.profile.model import DEFAULT_PRECISION_PROMPTS, EvidenceSettings
from tui.stages.server_options import add_server_arguments

DEFAULT_CHAT_PROMPTS: tuple[str, ...] = (
    "say hi",
    "What is the capital of France?",
    "Write a Python function to reverse a string.",
    "中国的首都是哪里？",
    "What is 17 × 23?",
)
"""Used when the profile names none: a greeting, a fact, code, Chinese and arithmetic."""
DEFAULT_COMPLETION_PROMPTS = DEFAULT_PRECISION_PROMPTS
DEFAULT_MAX_TOKENS = EvidenceSettings().max_tokens


def add_stage_arguments(parser: argparse.ArgumentParser) -> None:
    """The options the stage itself takes (the CLI adds --profile, --runs-dir, --json on top)."""
    add_server_arguments(parser)
    parser.add_argument("--mode", choices=("chat", "completion"), help="chat or raw completion (default: chat)")
    parser.add_argument("--prompt", action="append", default=None, metavar="TEXT",
                        help="a prompt of the set (repeat it; default: the profile's [stages.evidence] "
                        "or a built-in set)")
    parser.add_argument("--max-tokens", type=positive_int, metavar="N",
                        help=f"tokens per reply (default {DEFAULT_MAX_TOKENS})")
    parser.add_argument("--timeout", type=seconds, default=600.0, metavar="S",
                        help="seconds allowed per request (default 600)")
    parser.add_argument("--python", dest="serving_python", metavar="PATH",
                        help="the serving environment's interpreter, whose packages are recorded")
    parser.add_argument("--server-command", metavar="PROGRAM",
                        help="the server's program (`vllm`), whose interpreter is the serving one")
    parser.add_argument("--ascend-root", type=Path, default=Path("/usr/local/Ascend"), metavar="DIR",
                        help="where CANN and the driver are installed (default /usr/local/Ascend)")
    parser.add_argument("--no-environment", action="store_true", help="do not capture the environment")


def default_prompts(mode: str) -> tuple[str, ...]:
    return DEFAULT_COMPLETION_PROMPTS if mode == "completion" else DEFAULT_CHAT_PROMPTS


def to_stage_argv(args: argparse.Namespace, url: str, *, settings: EvidenceSettings | None = None,
                  api_key_env: str | None = None, serving_python: str | None = None,
                  server_command: str | None = None) -> list[str]:
    """The stage's argv from parsed CLI options, with the profile's settings filling what was not given."""
    mode = args.mode or (settings.mode if settings is not None else "chat")
    prompts: Sequence[str] = args.prompt or (settings.prompts if settings is not None and settings.prompts else ())
    max_tokens = args.max_tokens or (settings.max_tokens if settings is not None else DEFAULT_MAX_TOKENS)
    argv = ["--url", url, "--mode", mode, "--max-tokens", str(max_tokens), "--timeout", f"{args.timeout:g}",
            "--ascend-root", str(args.ascend_root)]
    if args.model:
        argv += ["--model", args.model]
    for prompt in prompts:
        argv += ["--prompt", prompt]
    key_env = args.api_key_env or api_key_env
    if key_env:
        argv += ["--api-key-env", key_env]
    python = args.serving_python or serving_python
    if python:
        argv += ["--python", python]
    command = args.server_command or server_command
    if command:
        argv += ["--server-command", command]
    if args.no_environment:
        argv.append("--no-environment")
    return argv


def evidence_args(settings: EvidenceSettings, url: str, *, model: str | None = None, api_key_env: str | None = None,
                  serving_python: str | None = None, server_command: str | None = None) -> list[str]:
    """The stage's argv from a profile's `[stages.evidence]` against the server at `url` (the console's key)."""
    argv = ["--url", url, "--mode", settings.mode, "--max-tokens", str(settings.max_tokens)]
    if model:
        argv += ["--model", model]
    for prompt in settings.prompts:
        argv += ["--prompt", prompt]
    if api_key_env:
        argv += ["--api-key-env", api_key_env]
    if serving_python:
        argv += ["--python", serving_python]
    if server_command:
        argv += ["--server-command", server_command]
    return argv
