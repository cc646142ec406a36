"""`npu-console log facts FILE [--json]`: what a saved `vllm serve` log says, from the shell.

The same reader the console's log pane uses (`tui.server.logfacts`), so an
operator can check a log pasted from another host, or attach `--json` (the
contract object of CONTRACTS.md) to a bug report. Without `--json` it prints a
readable summary: the facts, the start-up phases with their durations, every
error with what to try, and the root cause.

Exit status (CONTRACTS.md): 0 when the file was read, whatever the log says
(a failed start is a finding, not a failure of this command); 2 when there is
no file to read, it is not a regular file (a device, a FIFO), or it holds no
line of a vLLM server log, with one sentence on stderr. The file is streamed
in bounded memory: a line longer than 64 Ki characters is cut (and counted).
The reader is imported inside `run`, so `--help` stays cheap.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, TextIO

from tui.formatting import or_na

if TYPE_CHECKING:
    from tui.server.logfacts import Phase

EXIT_OK = 0
EXIT_BAD_INPUT = 2
MAX_LINE_NOTE = "64 Ki characters"  # tui.bounded_input.MAX_LINE, said in words

VLLM_LINE = re.compile(
    r"(?m)(?:^|[\s)\]|>])(?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL)\s+\d\d-\d\d\s+\d\d:\d\d:\d\d(?:\.\d+)?\s"
    r"|\((?:APIServer|EngineCore[\w-]*|VllmWorker[\w-]*|Worker[\w-]*|RayWorkerWrapper|ApiServer_\d+)\s+pid=\d+\)"
    r"|^\[rank\d+\]:|^Traceback \(most recent call last\):|File \"[^\"]*vllm[\w-]*/[^\"]*\.py\", line \d+"
    r"|^(?:vllm|vllm-mindspore|vllm serve|vllm-mindspore serve|api_server\.py): error: "
)
"""A line only a vLLM server log has: its logger's `LEVEL MM-DD HH:MM:SS`, a process prefix, a traceback,
or the CLI's own argparse error (a launch that stopped at a misspelled flag prints nothing else)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `log` actions (`facts`) to its subparser."""
    parser.description = parser.description or (
        "Read a vllm serve log (saved, or the run directory's server.log) and say what it shows."
    )
    actions = parser.add_subparsers(dest="log_action", metavar="ACTION")
    facts = actions.add_parser(
        "facts",
        help="the facts, start-up phases and errors of a vllm serve log",
        description=(
            "Read a whole vllm serve log (ANSI colour, CR LF, process prefixes, tqdm frames and hard-wrapped "
            "lines included) and print its facts: version, model, limits, memory, graph mode, readiness, "
            "the last stats, request counts, start-up phases with durations, and every error with what to try."
        ),
    )
    facts.add_argument("file", metavar="FILE", help="the log file to read")
    facts.add_argument("--json", action="store_true", help="print the one contract object (CONTRACTS.md)")


def run(args: argparse.Namespace) -> int:
    """Run the chosen `log` action and return the exit status."""
    action = getattr(args, "log_action", None)
    if action != "facts":
        print("npu-console log: choose an action, e.g. `npu-console log facts FILE`.", file=sys.stderr)
        return EXIT_BAD_INPUT
    path = str(args.file)
    from tui.files.bounded_input import BoundedLines, InputError, open_regular
    from tui.server.logfacts import LogFacts

    reader = LogFacts(collect_events=False)
    looks_like_vllm = False
    try:
        with open_regular(path) as handle:
            lines = BoundedLines(handle)
            for block in lines:
                if not looks_like_vllm:
                    looks_like_vllm = VLLM_LINE.search(block) is not None
                reader.feed(block)
    except InputError as error:
        return _unreadable(str(error))
    except OSError as error:
        return _unreadable(f"cannot read {path}: {error.strerror or error}; check the path and its permissions")
    if not looks_like_vllm:
        return _unreadable(f"{path} does not look like a vLLM server log (no line of vLLM's logger, process "
                           "prefix or traceback); give the log the server wrote")
    reader.close()
    facts = reader.facts()
    if getattr(args, "json", False):
        print(json.dumps(facts, indent=2, ensure_ascii=False))
    else:
        print_summary(path, facts, reader.phases(), reader.lines, sys.stdout)
    if lines.cut_lines:
        print(f"npu-console log facts: note: {lines.cut_lines} line(s) longer than {MAX_LINE_NOTE} were cut "
              "to that length.", file=sys.stderr)
    return EXIT_OK


def _unreadable(sentence: str) -> int:
    print(f"npu-console log facts: {sentence}.", file=sys.stderr)
    return EXIT_BAD_INPUT


def _seconds(value: object) -> str:
    return "N/A" if not isinstance(value, (int, float)) else f"{value:g} s"


def print_summary(
    path: str, facts: Mapping[str, object], phases: Sequence[Phase], lines: int, out: TextIO
) -> None:
    """The human view: a headline, the facts in groups, phases, errors with hints, the root cause."""
    state = "ready" if facts["ready"] else "not ready"
    print(f"{path}: {lines} lines, vLLM {or_na(facts['vllm_version'])} ({or_na(facts['engine'])}) on "
          f"{or_na(facts['platform'])}, {state}", file=out)
    rows = [
        ("model", f"{or_na(facts['model'])} ({or_na(facts['architecture'])}, {or_na(facts['dtype'])})"),
        ("limits", f"max_model_len {or_na(facts['max_model_len'])}, "
                   f"tensor_parallel_size {or_na(facts['tensor_parallel_size'])}, "
                   f"max_num_batched_tokens {or_na(facts['max_num_batched_tokens'])}"),
        ("weights", f"{or_na(facts['weights_gib'], unit=' GiB')} loaded in {_seconds(facts['weights_load_s'])}"),
        ("KV cache", f"{or_na(facts['kv_cache_gib'], unit=' GiB')}, {_tokens(facts['kv_cache_tokens'])} tokens, "
                     f"max concurrency {or_na(facts['max_concurrency'], unit='x')}"),
        ("compilation", f"{or_na(facts['compilation'])} (ACL graph: max batch sizes "
                        f"{or_na(facts['graph_max_batch_sizes'])}, "
                        f"capture sizes {or_na(facts['graph_capture_sizes'])})"),
        ("timings", f"torch.compile {_seconds(facts['torch_compile_s'])}, "
                    f"engine init {_seconds(facts['engine_init_s'])}"),
        ("API", or_na(facts["api_url"])),
        ("stats", _stats(facts["stats"])),
        ("requests", _requests(facts["requests"])),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name.ljust(width)}  {value}", file=out)
    print("phases:", file=out)
    if not phases:
        print("  none", file=out)
    for phase in phases:
        timing = "" if phase.elapsed_s is None else f"at +{phase.elapsed_s:g} s"
        if phase.duration_s is not None:
            timing += f", took {phase.duration_s:g} s"
        print(f"  line {phase.line:>6}  {phase.label:<16}{timing}", file=out)
    errors = facts["errors"]
    print("errors:" if errors else "errors: none", file=out)
    if isinstance(errors, list):
        for error in errors:
            print(f"  line {error['line']:>6}  {_kind(error)}: {error['text']}", file=out)
            print(f"{'':14}try: {error['hint']}", file=out)
    cause = facts["root_cause"]
    if isinstance(cause, dict):
        print(f"root cause: {_kind(cause)} at line {cause['line']}: {cause['text']}", file=out)
        if cause.get("message") and cause["message"] != cause["text"]:
            print(f"  message: {cause['message']}", file=out)
        print(f"  try: {cause['hint']}", file=out)
    else:
        print("root cause: none", file=out)


def _kind(error: Mapping[str, object]) -> str:
    return f"{error['kind']} {error['code']}" if error.get("code") else str(error["kind"])


def _tokens(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else "N/A"


def _stats(stats: object) -> str:
    if not isinstance(stats, dict):
        return "N/A"
    prefix = stats["prefix_hit_pct"]
    return (f"prompt {stats['prompt_tps']} tok/s, generation {stats['gen_tps']} tok/s, running {stats['running']}, "
            f"waiting {stats['waiting']}, KV cache {stats['kv_usage_pct']}%, prefix hits {or_na(prefix, unit='%')}")


def _requests(requests: object) -> str:
    if not isinstance(requests, dict):
        return "N/A"
    by_status = requests["by_status"]
    detail = ", ".join(f"{status}: {count}" for status, count in by_status.items()) if by_status else "none"
    return f"{requests['total']} ({detail})"
