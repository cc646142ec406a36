"""`npu-console precision --model DIR …`: the precision check from the shell.

The stage runs as a subprocess (`python -m tui.stages.precision`) under `--python` (or the profile's stage
Python, where torch_npu lives), exactly as the console runs it, with its events, stderr, result.json and
per-position CSV kept in a run directory. Progress goes to stderr as one updating line; stdout gets a
per-prompt table, the verdict and its reasons. `--json F` writes the result object (CONTRACTS.md) to F.
Exit status: 0 PASS, 1 FAIL or the check could not run, 2 bad usage or unreadable input.

Nothing heavy is imported here: torch and transformers live only in the stage process.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

PROG = "npu-console precision"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from tui.stages.precision.options import add_check_arguments

    add_check_arguments(parser, from_profile=True)
    parser.add_argument("--profile", metavar="NAME|PATH",
                        help="take the model path, device, dtype, prompts, thresholds and stage Python from a profile")
    parser.add_argument("--python", metavar="PATH",
                        help="the interpreter that runs the stage (default: the profile's stage Python, else this one)")
    parser.add_argument("--runs-dir", metavar="DIR", type=Path,
                        help="where the run folder goes (default: $XDG_DATA_HOME/npu-console/runs/cli)")


class UsageError(Exception):
    """Bad usage: exit 2 with this sentence."""


def _check_threshold(flag: str, text: str) -> str:
    if text.strip().lower() in ("none", "off", "null"):
        return "none"
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{flag} expects a number or 'none', got {text!r}") from None
    if not math.isfinite(value):
        raise UsageError(f"{flag} expects a finite number, got {text!r}")
    return text


def stage_arguments(args: argparse.Namespace, env: Mapping[str, str]) -> tuple[list[str], str | None, str]:
    """(the stage's argv, its Python, the run folder's label) from the options and the profile, if any."""
    settings: Any = None
    model_path: str | None = None
    python: str | None = args.python
    label = "cli"
    api_key_env = args.api_key_env
    if args.profile:
        from tui.profile import ProfileError, expand_value, load_profile, resolve_profile
        from tui.stages.launch import stage_python

        try:
            profile = load_profile(resolve_profile(args.profile))
        except ProfileError as error:
            raise UsageError(str(error)) from error
        settings = profile.stages.precision
        model_path = expand_value(profile.model.path, env) if profile.model.path else None
        python = python or stage_python(profile, env)
        label = profile.name
        api_key_env = api_key_env or profile.server.api_key_env
    model = args.model or model_path
    if not model:
        raise UsageError("say which model folder to check: --model DIR (or a --profile whose [model] has a path)")
    argv = ["--model", model]
    if args.candidate_model:
        argv += ["--candidate-model", args.candidate_model]
    device = args.device or (settings.device if settings is not None else None)
    dtype = args.dtype or (settings.dtype if settings is not None else None)
    if device:
        argv += ["--device", device]
    if dtype:
        argv += ["--dtype", dtype]
    if args.prompts:
        argv += ["--prompts", args.prompts]
    prompts: Sequence[str] = args.prompt or ((settings.prompts if settings is not None else ()) if not args.prompts
                                             else ())
    for prompt in prompts:
        argv += ["--prompt", prompt]
    if args.url:
        argv += ["--url", args.url]
        if args.served_model:
            argv += ["--served-model", args.served_model]
        if api_key_env:
            argv += ["--api-key-env", api_key_env]
        if args.top_k is not None:
            argv += ["--top-k", str(args.top_k)]
    if args.no_noise_floor:
        argv.append("--no-noise-floor")
    if args.skip_memory_check:
        argv.append("--skip-memory-check")
    from tui.stages.precision.options import THRESHOLD_FLAGS

    for flag, attr in THRESHOLD_FLAGS:
        given = getattr(args, attr)
        if given is not None:
            argv += [flag, _check_threshold(flag, given)]
        elif settings is not None:
            value = getattr(settings.thresholds, attr)
            argv += [flag, "none" if value is None else repr(float(value))]
    return argv, python, label


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "N/A"
    if isinstance(value, float) and (abs(value) >= 1e4 or (value != 0 and abs(value) < 1e-3)):
        return f"{value:.2e}"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _width(text: str) -> int:
    """Terminal columns of `text`: wide (CJK) characters take two."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _fit(text: str, columns: int) -> str:
    """`text` cut (with an ellipsis) to at most `columns` terminal columns."""
    if _width(text) <= columns:
        return text
    out = ""
    for char in text:
        if _width(out + char) > columns - 1:
            break
        out += char
    return out + "…"


def render_table(result: Mapping[str, Any]) -> str:
    """The per-prompt table, the overall line, the verdict and its reasons, for a terminal."""
    header = (f"{'prompt':<32} {'tok':>4} {'top1':>6} {'top1~':>6} {'top5':>6} {'cos min':>8} {'max abs':>8} "
              f"{'rel err':>8} {'KL':>8} {'div':>4} verdict")
    lines = [header, "-" * len(header)]

    def row(name: str, tokens: Any, item: Mapping[str, Any], layer: Any, verdict: str) -> str:
        return (f"{name}{' ' * (32 - _width(name))} {tokens!s:>4} {_num(item.get('top1_agreement'), 3):>6} "
                f"{_num(item.get('top1_agreement_tie_aware'), 3):>6} {_num(item.get('top5_overlap'), 3):>6} "
                f"{_num(item.get('cosine_min'), 5):>8} {_num(item.get('max_abs_error')):>8} "
                f"{_num(item.get('relative_error_mean')):>8} {_num(item.get('kl_mean')):>8} "
                f"{'-' if layer is None else layer!s:>4} {verdict}")

    for prompt in result.get("prompts", []):
        name = _fit(str(prompt.get("prompt", "")).replace("\n", "\\n"), 32)
        lines.append(row(name, prompt.get("tokens"), prompt, prompt.get("first_divergent_layer"),
                         str(prompt.get("verdict"))))
    summary = result.get("summary") or {}
    total = sum(int(p.get("tokens") or 0) for p in result.get("prompts", []))
    lines.append("-" * len(header))
    lines.append(row("all prompts", total, summary, None, ""))
    candidate = result.get("candidate") or {}
    side = candidate.get("url") or f"{candidate.get('device')} {candidate.get('dtype')}"
    ratio = summary.get("noise_floor_ratio")
    lines.append(f"reference cpu float32 vs candidate {side}; noise-floor ratio {_num(ratio, 3)}; "
                 f"NaN/Inf {_num(result.get('nan_inf'))}")
    for note in result.get("notes") or []:
        lines.append(f"note: {note}")
    lines.append(f"verdict: {result.get('verdict')}")
    lines.extend(f"  - {reason}" for reason in result.get("reasons") or [])
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from tui.commands.stage_cli import StageEcho, cli_run_dir, run_stage_to_end

    env = dict(os.environ)
    try:
        stage_args, python, label = stage_arguments(args, env)
    except UsageError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    run_dir = cli_run_dir(PROG, args.runs_dir, label, "precision")
    if run_dir is None:
        return 2
    echo = StageEcho(PROG)
    outcome = run_stage_to_end("precision", stage_args, run_dir=run_dir, python=python, echo=echo, env=env,
                               kept="nothing was judged")
    if isinstance(outcome, int):
        return outcome
    result = outcome.result
    if result is not None:
        print(render_table(result))
        if args.json:
            from tui.files.atomic import atomic_write_json

            try:
                atomic_write_json(args.json, dict(result))
            except OSError as exc:
                print(f"{PROG}: cannot write {args.json}: {exc}; pick a writable path.", file=sys.stderr)
                return 1
    print(f"Run files: {outcome.run_folder}", file=sys.stderr)
    if result is not None and result.get("verdict") == "PASS" and outcome.exit_code == 0:
        return 0
    if result is not None and result.get("verdict") == "FAIL":
        print(f"{PROG}: FAIL; the reasons above say which threshold failed and where "
              f"(per-position evidence in {result.get('csv') or outcome.run_folder}).", file=sys.stderr)
        return 1
    if not echo.said_error:
        print(f"{PROG}: {outcome.error or 'the stage ended without a result'}", file=sys.stderr)
    return outcome.exit_code if outcome.exit_code in (1, 2) else 1
