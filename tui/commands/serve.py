"""`npu-console serve --profile P [--variant V]`: preflight, launch and watch a server from the shell.

The same core as the console's Server area: the launch plan, the preflight
checks, the launcher (its own process group, every byte in the run
directory's `server.log`) and the log-facts reader. It prints the checklist,
then each start-up phase and the key facts as the log states them, and stays
until the server ends or Ctrl-C stops its whole tree.

Exit status: 0 when the operator stopped a server that had come up (or that
ended cleanly); 1 when preflight failed (without --force) or the server died,
with the root cause and what to try on stderr; 2 for bad usage (no such
profile or variant).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from tui.server.logfacts import LogEvent

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
KEY_FACTS = ("architecture", "max_model_len", "dtype", "weights_gib", "kv_cache_tokens", "compilation",
             "graph_capture_sizes", "api_url")
MARKS = {"pass": "✔", "warn": "!", "fail": "✘"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", required=True, metavar="NAME|PATH", help="the profile to launch")
    parser.add_argument("--variant", metavar="NAME", help="the profile variant (default: the profile's)")
    parser.add_argument("--runs-dir", metavar="DIR", type=Path,
                        help="where the run directory goes (default: $XDG_DATA_HOME/npu-console/runs)")
    parser.add_argument("--force", action="store_true", help="launch even when a preflight check fails")


def run(args: argparse.Namespace) -> int:
    import asyncio

    try:
        return asyncio.run(_serve(args, sys.stdout, sys.stderr))
    except KeyboardInterrupt:  # a second Ctrl-C while stopping
        print("npu-console serve: interrupted again while stopping; check `npu-console smi` for leftovers.",
              file=sys.stderr)
        return EXIT_FAILED


async def _serve(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import asyncio
    import os
    import signal

    from tui.clock import SystemClock
    from tui.devices.backends import pick_backend
    from tui.devices.processes import describe_holders
    from tui.proc import SubprocessRunner
    from tui.profiles import ProfileError, load_profile, resolve_profile
    from tui.runs import create_run_dir
    from tui.server.environment import resolve_environment
    from tui.server.launch_plan import launch_plan
    from tui.server.launcher import LaunchError, ServerProcess
    from tui.server.logfacts import LogFacts
    from tui.server.preflight import run_preflight
    from tui.xdg import default_runs_dir

    env = dict(os.environ)
    try:
        profile = load_profile(resolve_profile(args.profile))
        plan = launch_plan(profile, args.variant, env)
    except ProfileError as error:
        print(f"npu-console serve: {error}", file=err)
        return EXIT_USAGE
    runner = SubprocessRunner(env)

    backend = pick_backend("auto", env)
    snapshot = None if isinstance(backend, str) else await backend.read(runner, 10.0)
    holders = await asyncio.to_thread(describe_holders, snapshot.processes) if snapshot else ()
    resolved = await resolve_environment(env, plan.source_files, plan.env, runner)
    checks = await run_preflight(plan, profile, resolved, snapshot, holders,
                                 npu_smi_found=not isinstance(backend, str) and backend.name == "npu-smi")
    print(f"Preflight for {profile.name}" + (f" ({plan.variant})" if plan.variant else ""), file=out)
    for check in checks:
        print(f"  {MARKS[check.status]} {check.title}: {check.detail}", file=out)
        if check.fix and check.status != "pass":
            print(f"      fix: {check.fix}", file=out)
    failed = [check for check in checks if check.status == "fail"]
    if failed and not args.force:
        print(f"npu-console serve: {len(failed)} preflight check(s) failed ({', '.join(c.title for c in failed)}); "
              "fix them, or pass --force to launch anyway.", file=err)
        return EXIT_FAILED

    run_dir = create_run_dir((args.runs_dir or default_runs_dir()).expanduser(), profile.name, SystemClock(),
                             {"variant": plan.variant, "command": "serve"})
    facts = LogFacts()
    print(f"Launching: {' '.join(plan.argv)}\nLog: {run_dir / 'server.log'}", file=out, flush=True)

    def on_lines(lines: list[str]) -> None:
        for line in lines:
            for event in facts.feed_line(line):
                _print_event(event, out)

    try:
        server = await ServerProcess.start(plan.argv, resolved.env, run_dir / "server.log", on_lines)
    except LaunchError as error:
        print(f"npu-console serve: {error}", file=err)
        return EXIT_FAILED
    interrupted = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, interrupted.set)
    ended = asyncio.ensure_future(server.wait())
    interrupt = asyncio.ensure_future(interrupted.wait())
    await asyncio.wait({ended, interrupt}, return_when=asyncio.FIRST_COMPLETED)
    if interrupt.done() and not ended.done():
        print("Stopping the server's whole tree (SIGINT, then SIGTERM, then SIGKILL)…", file=out, flush=True)
        report = await server.stop()
        await _save_facts(run_dir, facts)
        if report.survivors:
            print(f"npu-console serve: still running after {report.last_signal}: "
                  f"{', '.join(map(str, report.survivors))}; stop them as their owner or root.", file=err)
            return EXIT_FAILED
        print(f"Stopped {len(report.stopped)} process(es).", file=out)
        return EXIT_OK
    interrupt.cancel()
    exit_info = await ended
    await _save_facts(run_dir, facts)
    root = facts.root_cause
    if exit_info.returncode == 0 and root is None:
        print(f"The server ended: {exit_info.sentence()}.", file=out)
        return EXIT_OK
    reason = f"npu-console serve: {exit_info.sentence()}"
    if root is not None:
        reason += f"; root cause: {root.kind}{' ' + root.code if root.code else ''} (log line {root.line}): {root.hint}"
    print(reason, file=err)
    return EXIT_FAILED


def _print_event(event: LogEvent, out: TextIO) -> None:
    from tui.server.logfacts import ErrorFound, FactChanged, PhaseEntered, Ready

    if isinstance(event, PhaseEntered):
        at = "" if event.elapsed_s is None else f"[{event.elapsed_s:6.1f} s] "
        print(f"{at}phase: {event.phase.replace('_', ' ')}", file=out, flush=True)
    elif isinstance(event, FactChanged) and event.name in KEY_FACTS:
        print(f"  {event.name} = {_show(event.value)}", file=out, flush=True)
    elif isinstance(event, Ready):
        print("Ready: the API answers.", file=out, flush=True)
    elif isinstance(event, ErrorFound):
        found = event.diagnosis
        print(f"  error: {found.kind}{' ' + found.code if found.code else ''} (line {found.line}) — {found.hint}",
              file=out, flush=True)


def _show(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


async def _save_facts(run_dir: Path, facts: Any) -> None:
    import asyncio

    from tui.atomic import atomic_write_json

    await asyncio.to_thread(atomic_write_json, run_dir / "facts.json", facts.facts())
