"""The `npu-console` command line.

This module is imported by every invocation, `--help` included, so it imports
only the standard library at the top: the Textual app, httpx and the
subcommands' modules are imported inside the functions that need them.
Exit status (CONTRACTS.md): 0 success, 1 the work ran and failed, 2 bad usage
or unreadable input; every non-zero exit says on stderr what to do.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from tui import __version__
from tui.arg_types import seconds

DESCRIPTION = (
    "A full-screen console for bringing up LLMs with vLLM on Ascend NPU hosts: "
    "devices, server launch and log, playground, and one-key stages."
)
EPILOG = """\
examples:
  npu-console --demo                       open the console on a simulated NPU host
  npu-console --profile qwen2.5-coder-0.5b-ascend
  npu-console profiles list                the profiles this console can see
  npu-console profiles validate my.toml    check a profile, naming file, line and key of each mistake
  npu-console smi --json                   this host's chips, health, HBM and processes as JSON
  npu-console smi --file saved.txt         parse a saved `npu-smi info` output
  npu-console log facts server.log --json  the facts, phases and root cause of a vllm serve log
  npu-console serve --profile demo         preflight, launch and watch a server (Ctrl-C stops it)
  npu-console ask --url http://127.0.0.1:8000 "say hi"   one prompt, streamed, with TTFT and tokens/s
  npu-console bench serve --url http://127.0.0.1:8000 --num-prompts 32 --request-rate 4 --result-json graph.json
  npu-console bench compare eager.json graph.json   two saved benchmark results side by side, deltas in %
  npu-console precision --model /models/qwen --device npu --json precision.json   CPU fp32 vs NPU bf16 logits
  npu-console evidence --url http://127.0.0.1:8000 --profile demo   prompts at temperature 0 twice, curl exchanges
  npu-console report runs/demo/20250101-120000 --lang en            the verification report from a run folder
"""


SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "profiles": ("list, show and validate profiles", "List, show and validate npu-console profiles."),
    "smi": ("read device telemetry (npu-smi, nvidia-smi, or a saved output)",
            "Read npu-smi or nvidia-smi (or parse a saved output) into one snapshot."),
    "log": ("what a vllm serve log says (facts, phases, errors with hints)",
            "Read a vllm serve log and say what it shows."),
    "serve": ("preflight, launch and watch a server from a profile (Ctrl-C stops its whole tree)",
              "Preflight checks, then launch the profile's server and print its phases and facts."),
    "dequant": ("FP8 → BF16 dequantization of a checkpoint, tensor by tensor, in bounded memory",
                "Dequantize an FP8 checkpoint (block scales) to BF16, bit-exact, writing DST atomically."),
    "bench": ("latency, concurrency and serving benchmarks with vLLM's metric definitions",
              "Benchmark an OpenAI-compatible server: latency, concurrency, or vLLM's serving benchmark."),
    "ask": ("send one prompt to an OpenAI-compatible server and stream the reply",
            "Send one prompt (chat or completion) and print the reply as it streams."),
    "evidence": ("inference evidence for the report: fixed prompts at temperature 0 twice, API exchanges as curl",
                 "Send the profile's evidence prompts twice at temperature 0 (determinism), record /v1/models, "
                 "/version, a chat and a completion as curl with the answers, and the serving environment."),
    "report": ("the verification report (Markdown and JSON, Chinese or English) from run folders",
               "Write the verification report's eight sections from the evidence in run folders."),
    "precision": ("CPU float32 reference vs device bf16: logits, top-k and layers, PASS or FAIL",
                  "Run the same weights on the CPU in float32 and on the device in bf16 (or ask a server's "
                  "logprobs) and compare every prompt position and layer."),
    "accuracy": ("GSM8K accuracy of a server: few-shot chain of thought, graded as AISBench, lm-eval or boxed",
                 "Ask an OpenAI-compatible server the first N GSM8K test problems (4-shot chain of thought, chat "
                 "or completion) and grade the replies; `accuracy compare A B` lists the problems that flipped."),
}
"""Each subcommand's help line and description; its module is `tui.commands.<name>`."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="npu-console",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"npu-console {__version__}")
    parser.add_argument("--profile", metavar="NAME|PATH", help="open the console on this profile (a picker if none)")
    parser.add_argument("--variant", metavar="NAME", help="the profile variant to use (default: the profile's)")
    parser.add_argument(
        "--runs-dir", metavar="DIR", type=Path,
        help="where run directories go (default: $XDG_DATA_HOME/npu-console/runs)",
    )
    parser.add_argument(
        "--interval", metavar="SECONDS", type=seconds, default=2.0,
        help="seconds between device reads (default 2; a read that fails backs off up to 30 s)",
    )
    parser.add_argument(
        "--demo", action="store_true",
        help="open the console against the built-in simulated NPU host (no hardware needed)",
    )
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_line, description) in SUBCOMMANDS.items():
        _command_module(name).add_arguments(subcommands.add_parser(name, help=help_line, description=description))
    return parser


def _command_module(name: str) -> ModuleType:
    """`tui.commands.<name>`: each has `add_arguments(parser)` and `run(args) -> int`, and imports little."""
    return importlib.import_module(f"tui.commands.{name}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from tui.commands.guard import run_guarded, take_back_interrupt

    take_back_interrupt()  # a background job starts with SIGINT ignored; we stop what we start through it
    if args.command in SUBCOMMANDS:
        module = _command_module(args.command)
        return run_guarded(f"npu-console {args.command}", lambda: int(module.run(args)))
    return run_guarded("npu-console", lambda: run_console(args))


def run_console(args: argparse.Namespace) -> int:
    """Open the TUI (`npu-console [--demo] [--profile …]`)."""
    from tui.startup.build import StartupError, build_session

    try:
        session = build_session(
            profile=args.profile, variant=args.variant, runs_dir=args.runs_dir, demo=args.demo,
            env=dict(os.environ),
        )
    except StartupError as error:
        print(f"npu-console: {error}", file=sys.stderr)
        return 2
    if not sys.stdout.isatty() and not os.environ.get("NPU_CONSOLE_ALLOW_NO_TTY"):
        print("npu-console: the console needs a terminal; run it in a terminal (or tmux), "
              "or use a subcommand such as `npu-console profiles list`.", file=sys.stderr)
        return 2
    from tui.app import make_app
    from tui.processes.console_end import run_console_app

    # SIGHUP/SIGTERM end it in order, and whatever it started stops with it (unless left running on purpose).
    return run_console_app(make_app(session, device_interval_s=args.interval), lambda: session.run_dir)


if __name__ == "__main__":
    sys.exit(main())
