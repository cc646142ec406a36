"""`npu-console evidence --url URL …`: inference evidence for the verification report, from the shell.

Runs the evidence stage (`python -m tui.stages.evidence`) as a subprocess, exactly as the console runs
it, under this interpreter (it only talks HTTP); the serving environment's interpreter is only *asked*
for its package versions. With `--profile`, the profile's `[stages.evidence]` prompts, mode and max
tokens, its API key variable, its stage Python and its server program fill what was not given. Prints
a per-prompt table (determinism, tokens, latency) and where the run folder is; `--json F` writes the
result. Exit status: 0 gathered, 1 the server could not be reached or every request failed, 2 bad usage.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PROG = "npu-console evidence"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from tui.stages.evidence.options import add_stage_arguments

    add_stage_arguments(parser)
    parser.add_argument("--profile", metavar="NAME|PATH",
                        help="take the prompts, mode, max tokens, API key variable and serving Python from a profile")
    parser.add_argument("--runs-dir", metavar="DIR", type=Path,
                        help="where the run folder goes (default: $XDG_DATA_HOME/npu-console/runs/<profile or cli>)")
    parser.add_argument("--json", dest="json_file", metavar="FILE", type=Path, help="write the result object to FILE")


def _stage_argv(args: argparse.Namespace, env: Mapping[str, str]) -> tuple[list[str], str]:
    """(the stage's argv, the run folder's label); a bad profile raises ProfileError."""
    from tui.stages.evidence.options import to_stage_argv

    if not args.profile:
        return to_stage_argv(args, args.url), "cli"
    from tui.profile import load_profile, resolve_profile
    from tui.stages.launch import stage_python

    profile = load_profile(resolve_profile(args.profile))
    python = stage_python(profile, env) if profile.stages.python else None
    argv = to_stage_argv(args, args.url, settings=profile.stages.evidence, api_key_env=profile.server.api_key_env,
                         serving_python=python, server_command=next(iter(profile.server.command), None))
    return argv, profile.name


def format_summary(result: Mapping[str, Any]) -> str:
    """The prompt table and the exchanges' statuses, for the terminal."""
    lines = [f"Model {result.get('model')} at {result.get('url')} ({result.get('mode')}, temperature 0, "
             f"max {result.get('max_tokens')} tokens)"]
    for name, exchange in (result.get("exchanges") or {}).items():
        lines.append(f"  {name:<11} HTTP {exchange.get('status')}" + (f"  {exchange['error']}"
                                                                       if exchange.get("error") else ""))
    lines.append(f"{'#':>3}  {'same twice':<10} {'tokens':>7} {'latency ms':>11}  {'finish':<8} prompt")
    for item in result.get("prompts") or []:
        first = item["runs"][0]
        same = {True: "yes", False: "NO", None: "failed"}[item["deterministic"]]
        latency = first.get("latency_ms")
        lines.append(f"{item['index'] + 1:>3}  {same:<10} {first.get('completion_tokens') or '-':>7} "
                     f"{f'{latency:.1f}' if isinstance(latency, (int, float)) else '-':>11}  "
                     f"{first.get('finish_reason') or '-':<8} {item['prompt'][:60]!r}")
    summary = result.get("summary") or {}
    lines.append(f"{summary.get('deterministic')} of {summary.get('prompts')} prompt(s) answered the same twice; "
                 f"{summary.get('failed_runs')} request(s) failed.")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from tui.commands.stage_cli import StageEcho, cli_run_dir, exit_status, run_stage_to_end
    from tui.files.atomic import atomic_write_json
    from tui.profile import ProfileError

    env = dict(os.environ)
    try:
        argv, label = _stage_argv(args, env)
    except ProfileError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    echo = StageEcho(PROG)
    run_dir = cli_run_dir(PROG, args.runs_dir, label, "evidence")
    if run_dir is None:
        return 2
    outcome = run_stage_to_end("evidence", argv, run_dir=run_dir, python=sys.executable, echo=echo,
                               kept=f"the requests so far are in {run_dir}")
    if isinstance(outcome, int):
        return outcome
    if outcome.result is not None:
        print(format_summary(outcome.result))
        if args.json_file is not None:
            try:
                atomic_write_json(args.json_file, dict(outcome.result))
            except OSError as error:
                print(f"{PROG}: cannot write {args.json_file}: {error.strerror or error}", file=sys.stderr)
                return 2
    return exit_status(outcome, echo)
