"""`npu-console serve --profile P [--variant V]`: preflight, launch and watch a server from the shell.

The same pipeline as the console's Server area (`tui.server.pipeline`): the
launch plan, the preflight checks, the launcher (its own process group, every
byte in the run folder's `server.log`), the log-facts reader, readiness by the
API, and the same evidence files (`launch.json`, `launch.sh`, `server.log`,
`facts.json`, `stop.json`). It prints the checklist, then each start-up phase
and the key facts as the log states them, says "Ready" once the API answers,
and stays until the server ends or a signal stops its whole tree.

Signals: Ctrl-C (SIGINT) stops the server's tree and exits 0 when it went
cleanly; SIGHUP (the SSH connection or the tmux session went away) and SIGTERM
stop it too and exit 128 + the signal's number, so the server never outlives
the command that started it. A signal before the launch exits the same way
with nothing to stop. Under `nohup` a hang-up stays ignored, as the operator
asked: the server keeps serving after the terminal goes, and Ctrl-C or
`kill PID` (SIGTERM) still stop its tree.

`--profile demo` (or `npu-console --demo serve`) brings up the simulated host
first, exactly like `npu-console --demo`.

Exit status: 0 when the operator stopped a server that had come up (or that
ended cleanly); 1 when preflight failed (without --force), the server could
not start or died — with the root cause in its own words, what to try and the
log line on stderr; 2 for bad usage (no such profile or variant) or a runs
folder that cannot be written; 128 + N after signal N (SIGHUP, SIGTERM, and
SIGINT before the launch).
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from tui.commands.guard import hangup_ignored

if TYPE_CHECKING:
    import asyncio

    from tui.server.logfacts import LogEvent
    from tui.server.pipeline import ServerPipeline
    from tui.server.status import ServerStatus
    from tui.startup.session import ConsoleSession

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
KEY_FACTS = ("architecture", "max_model_len", "dtype", "weights_gib", "kv_cache_tokens", "compilation",
             "graph_capture_sizes", "api_url")
MARKS = {"pass": "✔", "warn": "!", "fail": "✘"}
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
WHY = {signal.SIGINT: "Ctrl-C (SIGINT)", signal.SIGTERM: "SIGTERM", signal.SIGHUP: "SIGHUP (the terminal went away)"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: `npu-console --profile P serve` and `npu-console serve --profile P` both work.
    parser.add_argument("--profile", metavar="NAME|PATH", default=argparse.SUPPRESS,
                        help="the profile to launch (`demo` brings up the simulated host; with --demo it is the "
                             "default)")
    parser.add_argument("--variant", metavar="NAME", default=argparse.SUPPRESS,
                        help="the profile variant (default: the profile's)")
    parser.add_argument("--runs-dir", metavar="DIR", type=Path, default=argparse.SUPPRESS,
                        help="where the run directory goes (default: $XDG_DATA_HOME/npu-console/runs)")
    parser.add_argument("--force", action="store_true", help="launch even when a preflight check fails")


class SafeStream:
    """A text stream that never raises: after SIGHUP the terminal is gone, and a write must not end us
    before the server is stopped (EIO, EPIPE). What cannot be written is dropped."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._broken = False

    def write(self, text: str) -> int:
        if not self._broken:
            try:
                self._stream.write(text)
            except (OSError, ValueError):
                self._broken = True
        return len(text)

    def flush(self) -> None:
        if not self._broken:
            try:
                self._stream.flush()
            except (OSError, ValueError):
                self._broken = True


def run(args: argparse.Namespace) -> int:
    import asyncio

    out, err = SafeStream(sys.stdout), SafeStream(sys.stderr)
    try:
        return asyncio.run(_serve(args, out, err))  # type: ignore[arg-type]
    except KeyboardInterrupt:  # only in the instant before the signal handlers are in place
        print("npu-console serve: interrupted before anything was launched.", file=err)
        return 128 + signal.SIGINT


class SignalWatch:
    """The first stop signal received (the later ones are counted), as an event the loop can wait on."""

    def __init__(self, loop: asyncio.AbstractEventLoop, err: TextIO) -> None:
        import asyncio

        self.event = asyncio.Event()
        self.first: signal.Signals | None = None
        self.stopping = False
        self._err = err
        self._loop = loop
        self.watched = tuple(sig for sig in STOP_SIGNALS if not (sig == signal.SIGHUP and hangup_ignored()))
        for sig in self.watched:
            loop.add_signal_handler(sig, self._received, sig)

    def _received(self, sig: signal.Signals) -> None:
        if self.first is None:
            self.first = sig
        elif self.stopping:
            print(f"npu-console serve: {WHY[sig]} again; still stopping the server's tree "
                  "(SIGINT, then SIGTERM, then SIGKILL).", file=self._err, flush=True)
        self.event.set()

    def close(self) -> None:
        for sig in self.watched:
            self._loop.remove_signal_handler(sig)

    @property
    def exit_status(self) -> int:
        return 128 + int(self.first or 0)


async def _serve(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import asyncio
    import contextlib

    from tui.processes.tree import become_subreaper

    become_subreaper()  # a server's double-forked daemon is re-parented to us, and stopped with its tree
    signals = SignalWatch(asyncio.get_running_loop(), err)
    if signal.SIGHUP not in signals.watched:
        print("npu-console serve: SIGHUP is ignored (nohup): the server stays when the terminal goes; "
              "Ctrl-C or `kill PID` stop it.", file=out, flush=True)
    try:
        preparing = asyncio.ensure_future(_prepare(args, out, err))
        interrupted = asyncio.ensure_future(signals.event.wait())
        await asyncio.wait({preparing, interrupted}, return_when=asyncio.FIRST_COMPLETED)
        if signals.first is not None:
            preparing.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await preparing
            print(f"npu-console serve: {WHY[signals.first]} before the launch; nothing was started.",
                  file=err, flush=True)
            return signals.exit_status
        interrupted.cancel()
        prepared = preparing.result()
        if isinstance(prepared, int):
            return prepared
        return await _launch_and_watch(prepared, signals, out, err)
    finally:
        signals.close()


class Prepared:
    """What a launch needs once preflight has passed."""

    def __init__(self, session: ConsoleSession, plan: Any, env: dict[str, str], run_dir: Path) -> None:
        self.session = session
        self.plan = plan
        self.env = env
        self.run_dir = run_dir


async def _prepare(args: argparse.Namespace, out: TextIO, err: TextIO) -> Prepared | int:
    """The session (demo host included), the plan, preflight and the run folder; an exit status on failure."""
    import asyncio
    import os

    from tui.devices.backends import pick_backend
    from tui.devices.processes import describe_holders
    from tui.files.runs import create_run_dir
    from tui.profile import ProfileError
    from tui.server.environment import resolve_environment
    from tui.server.launch_plan import launch_plan
    from tui.server.preflight import run_preflight
    from tui.startup.build import StartupError, build_session

    profile_arg: str | None = getattr(args, "profile", None)
    demo = bool(getattr(args, "demo", False))
    if profile_arg is None and not demo:
        print("npu-console serve: say which profile to launch: --profile NAME|PATH "
              "(or --demo for the simulated host).", file=err)
        return EXIT_USAGE
    try:
        demo = demo or _is_simulated(profile_arg)
        session = build_session(profile=profile_arg, variant=getattr(args, "variant", None),
                                runs_dir=getattr(args, "runs_dir", None), demo=demo, env=dict(os.environ),
                                move_busy_demo_port=_is_shipped_demo(profile_arg))
    except StartupError as error:
        print(f"npu-console serve: {error}", file=err)
        return EXIT_USAGE
    profile = session.profile
    assert profile is not None  # a profile was named, or the demo's is used
    if session.startup_note:
        print(session.startup_note, file=out, flush=True)
    env = dict(session.env)
    try:
        plan = launch_plan(profile, session.variant, env)
    except ProfileError as error:
        print(f"npu-console serve: {error}", file=err)
        return EXIT_USAGE
    runner = session.command_runner
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
    out.flush()
    failed = [check for check in checks if check.status == "fail"]
    if failed and not args.force:
        print(f"npu-console serve: {len(failed)} preflight check(s) failed ({', '.join(c.title for c in failed)}); "
              "fix them, or pass --force to launch anyway.", file=err)
        return EXIT_FAILED
    try:
        run_dir = await asyncio.to_thread(create_run_dir, session.runs_root, profile.name, session.clock,
                                          {"variant": plan.variant, "command": "serve",
                                           "simulated": session.simulated})
    except OSError as error:
        from tui.server.pipeline_evidence import evidence_sentence

        print(f"npu-console serve: {evidence_sentence(session.runs_root, error)}.", file=err)
        return EXIT_USAGE
    return Prepared(session, plan, dict(resolved.env), run_dir)


def _is_shipped_demo(profile_arg: str | None) -> bool:
    """The shipped demo profile moves off a busy port like `npu-console --demo` does; any other keeps its own."""
    from tui.profile import ProfileError, resolve_profile, shipped_profiles_dir
    from tui.startup.build import DEMO_PROFILE

    if profile_arg is None:
        return True
    try:
        return Path(resolve_profile(profile_arg)).resolve() == (shipped_profiles_dir() / DEMO_PROFILE).resolve()
    except (ProfileError, OSError):
        return False


def _is_simulated(profile_arg: str | None) -> bool:
    """True for a profile of the simulated host (the shipped `demo`): it needs the demo host brought up."""
    if profile_arg is None:
        return False
    from tui.profile import ProfileError, load_profile, resolve_profile

    try:
        return load_profile(resolve_profile(profile_arg)).runtime == "simulated"
    except (ProfileError, OSError):
        return False  # build_session reports it


async def _launch_and_watch(prepared: Prepared, signals: SignalWatch, out: TextIO, err: TextIO) -> int:
    import asyncio
    import os

    from tui.server.launcher import LaunchError
    from tui.server.pipeline import ServerPipeline
    from tui.server.pipeline_evidence import EvidenceError, redacted_argv

    session, plan = prepared.session, prepared.plan
    profile = session.profile
    assert profile is not None
    pipeline = ServerPipeline(CliListener(out, err), http_transport=session.http_transport)
    print(f"Launching: {' '.join(redacted_argv(plan.argv, prepared.env))}\nLog: {prepared.run_dir / 'server.log'}",
          file=out, flush=True)
    api_key = os.environ.get(profile.server.api_key_env) if profile.server.api_key_env else None
    try:
        await pipeline.launch(plan, prepared.env, prepared.run_dir, profile.base_url, api_key)
    except EvidenceError as error:
        print(f"npu-console serve: {error}.", file=err)
        return EXIT_USAGE
    except LaunchError as error:
        print(f"npu-console serve: {error}.", file=err)
        return EXIT_FAILED
    try:
        ended = asyncio.ensure_future(pipeline.wait_ended())
        interrupted = asyncio.ensure_future(signals.event.wait())
        await asyncio.wait({ended, interrupted}, return_when=asyncio.FIRST_COMPLETED)
        if signals.first is not None and not ended.done():
            return await _stop(pipeline, signals, out, err)
        interrupted.cancel()
        return _report_end(pipeline, err, out)
    finally:
        server = pipeline.server
        if server is not None and server.running:  # an error of ours on the way: the server must not outlive us
            await pipeline.stop(asked_by="npu-console serve, ending on an error")
        await pipeline.close()


async def _stop(pipeline: ServerPipeline, signals: SignalWatch, out: TextIO, err: TextIO) -> int:
    first = signals.first
    assert first is not None
    signals.stopping = True
    print(f"{WHY[first]}: stopping the server's whole tree (SIGINT, then SIGTERM, then SIGKILL)…",
          file=out, flush=True)
    report = await pipeline.stop(asked_by=WHY[first])
    if report is not None and report.survivors:
        print(f"npu-console serve: still running after {report.last_signal}: "
              f"{', '.join(map(str, report.survivors))}; stop them as their owner or root.", file=err, flush=True)
        return EXIT_FAILED if first == signal.SIGINT else signals.exit_status
    stopped = len(report.stopped) if report is not None else 0
    print(f"Stopped {stopped} process(es).", file=out, flush=True)
    return EXIT_OK if first == signal.SIGINT else signals.exit_status


def _report_end(pipeline: ServerPipeline, err: TextIO, out: TextIO) -> int:
    from tui.redact import redact
    from tui.server.pipeline_parse import diagnosis_message

    server = pipeline.server
    ended = server.exit if server is not None else None
    root = pipeline.root_cause
    if ended is not None and ended.returncode == 0 and root is None:
        print(f"The server ended: {ended.sentence()}.", file=out)
        return EXIT_OK
    sentence = ended.sentence() if ended is not None else "the server ended"
    if root is None:
        print(f"npu-console serve: {sentence}; the log names no cause (see "
              f"{pipeline.status.log_path or 'server.log'}).", file=err)
        return EXIT_FAILED
    code = f" {root.code}" if root.code else ""
    message = diagnosis_message(root)
    print(redact(f"npu-console serve: {sentence}; root cause: {root.kind}{code}: {message}"), file=err)
    print(f"  what to try: {root.hint}", file=err)
    print(redact(f"  log line {root.line}: {root.text.strip()}"), file=err)
    return EXIT_FAILED


class CliListener:
    """Prints what the pipeline says: phases, key facts and errors as the log states them, and readiness."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self.out = out
        self.err = err

    def status_changed(self, status: ServerStatus) -> None:
        if status.state == "ready":
            if status.detail:
                print(f"Ready by its log, but {status.detail.removeprefix('the log says ready but ')}.",
                      file=self.out, flush=True)
            else:
                print("Ready: the API answers." + (f" URL: {status.url}" if status.url else ""),
                      file=self.out, flush=True)

    def lines_arrived(self, lines: Any, total: int) -> None:
        pass

    def facts_changed(self, view: Any) -> None:
        pass

    def metrics_read(self, result: Any, at: float) -> None:
        pass

    def problem(self, sentence: str) -> None:
        print(f"npu-console serve: warning: {sentence}.", file=self.err, flush=True)

    def log_events(self, events: tuple[LogEvent, ...]) -> None:
        for event in events:
            _print_event(event, self.out)


def _print_event(event: LogEvent, out: TextIO) -> None:
    from tui.server.logfacts import ErrorFound, FactChanged, PhaseEntered, Ready

    if isinstance(event, PhaseEntered):
        at = "" if event.elapsed_s is None else f"[{event.elapsed_s:6.1f} s] "
        print(f"{at}phase: {event.phase.replace('_', ' ')}", file=out, flush=True)
    elif isinstance(event, FactChanged) and event.name in KEY_FACTS:
        print(f"  {event.name} = {_show(event.value)}", file=out, flush=True)
    elif isinstance(event, Ready):
        print("The log says the application started; asking the API…", file=out, flush=True)
    elif isinstance(event, ErrorFound):
        found = event.diagnosis
        print(f"  error: {found.kind}{' ' + found.code if found.code else ''} (line {found.line}) — {found.hint}",
              file=out, flush=True)


def _show(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)
