"""The stage runner with real subprocesses: good, crashing, chattering, silent and cancelled stages.

Each test writes tiny stage modules into a temporary package (`fakestages`) and
runs them through `StageRun(module=…)` exactly as the console runs
`python -m tui.stages.<name>`.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from tui.stages.events import (
    LogEvent,
    Progress,
    Result,
    StageError,
    StageEvent,
    emit_result,
    event_to_json,
    parse_event,
)
from tui.stages.runner import (
    DeviceQueue,
    ProgressMeter,
    StageRun,
    importable_root,
    list_stage_runs,
    package_root,
    stage_env,
    summarize_result,
)

GOOD = """
from tui.stages.events import emit_log, emit_progress, emit_result
for i in range(1, 4):
    emit_progress(i, 3, unit="tensor", message=f"t{i}")
emit_log("halfway", level="info")
emit_result({"tensors": 3, "seconds": 0.5})
"""

CRASH = """
import sys
print("some stdout chatter")
print("a warning before the end", file=sys.stderr)
raise RuntimeError("scale for model.layers.0.weight is NaN")
"""

GARBAGE = """
import sys
print("loading weights... 10%")
print("{not json")
print('[1, 2, 3]')
print('{"event": "teleport", "to": "mars"}')
print('{"event": "progress", "done": "three"}')
sys.stdout.flush()
sys.stdout.buffer.write(b"\\xff\\xfe binary\\n")
print('{"event": "result", "ok": true}')
"""

NO_RESULT = """
from tui.stages.events import emit_progress
emit_progress(1, 2)
"""

ERROR_EVENT = """
import sys
from tui.stages.events import emit_error
emit_error("destination /x is not empty; pass --force")
sys.exit(2)
"""

SPAWNER = """
import subprocess, sys, time
from tui.stages.events import emit_log
child = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('{\\"event\\": \\"log\\", \\"message\\": \\"child deaf to SIGTERM\\"}', flush=True); time.sleep(60)"])
emit_log(str(child.pid))
time.sleep(60)
"""

WHERE = """
import os, sys
import tui
from tui.stages.events import emit_result
emit_result({"tui": tui.__file__, "cwd": os.getcwd(), "argv": sys.argv[1:]})
"""


LEFTOVER = """
import subprocess, sys
from tui.stages.events import emit_log, emit_result
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
emit_log(str(child.pid))
emit_result({"ok": True})
"""

HUGE = """
from tui.stages.events import emit_result
emit_result({"blob": "x" * 300_000, "n": 1})
"""

CHATTY = """
import sys
from tui.stages.events import emit_log, emit_result
for i in range(20_000):
    emit_log(f"line {i} " + "x" * 200)
    print(f"stderr line {i} " + "y" * 100, file=sys.stderr)
emit_result({"lines": 20_000})
"""


@pytest.fixture
def stages(tmp_path: Path) -> Path:
    """A package `fakestages` with the stage modules above; returns the folder to put on PYTHONPATH."""
    root = tmp_path / "stagepath"
    package = root / "fakestages"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for name, code in {"good": GOOD, "crash": CRASH, "garbage": GARBAGE, "no_result": NO_RESULT,
                       "error_event": ERROR_EVENT, "spawner": SPAWNER, "where": WHERE,
                       "leftover": LEFTOVER, "huge": HUGE, "chatty": CHATTY}.items():
        (package / f"{name}.py").write_text(textwrap.dedent(code))
    return root


def make_run(name: str, stages: Path, run_dir: Path, **kwargs: object) -> StageRun:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(stages)}
    return StageRun(name, run_dir=run_dir, module=f"fakestages.{name}", env=env, **kwargs)  # type: ignore[arg-type]


# -- events ------------------------------------------------------------------------------------


def test_parse_event_reads_each_kind_and_returns_anything_else_raw() -> None:
    assert parse_event('{"event":"progress","done":3,"total":252,"unit":"tensor","message":"m"}\n') == Progress(
        3, 252, "tensor", "m")
    assert parse_event('{"event":"progress","done":1}') == Progress(1, None)
    assert parse_event('{"event":"log","level":"warning","message":"hm"}') == LogEvent("warning", "hm")
    assert parse_event('{"event":"result","data":{"a":1}}') == Result({"a": 1})
    assert parse_event('{"event":"result","a":1,"data":2}') == Result({"a": 1, "data": 2})
    assert parse_event('{"event":"error","message":"bad"}') == StageError("bad")
    for raw in ["", "hello", "{oops", "[1]", '{"event":"nope"}', '{"no":"event"}',
                '{"event":"progress","done":true}', '{"event":"progress","done":1,"total":"x"}',
                '{"event":"progress","done":NaN}']:
        assert parse_event(raw) == raw


def test_event_to_json_round_trips() -> None:
    events: list[StageEvent] = [Progress(1, 2, "b", "m"), Progress(1.5), LogEvent("info", "x"), Result({"k": [1]}),
                                StageError("e")]
    for event in events:
        assert parse_event(json.dumps(event_to_json(event))) == event


def test_emit_writes_one_compact_line(capsys: pytest.CaptureFixture[str]) -> None:
    emit_result({"name": "模型", "n": 1})
    out = capsys.readouterr().out
    assert out == '{"event":"result","data":{"name":"模型","n":1}}\n'


# -- runs --------------------------------------------------------------------------------------


async def test_good_stage_succeeds_and_leaves_its_evidence(stages: Path, tmp_path: Path) -> None:
    seen: list[object] = []
    run = make_run("good", stages, tmp_path / "run", on_event=seen.append)
    iterated: list[object] = []

    async def collect() -> None:
        async for event in run.events():
            iterated.append(event)

    collector = asyncio.create_task(collect())
    outcome = await run.run()
    await asyncio.wait_for(collector, 5)

    assert outcome.state == "succeeded" and outcome.ok and outcome.error is None
    assert outcome.exit_code == 0 and outcome.result == {"tensors": 3, "seconds": 0.5}
    assert [e for e in seen if isinstance(e, Progress)] == [Progress(i, 3, "tensor", f"t{i}") for i in (1, 2, 3)]
    assert LogEvent("info", "halfway") in seen
    assert iterated == seen
    folder = outcome.run_folder
    assert folder.parent == tmp_path / "run" and folder.name.startswith("good-")
    assert json.loads((folder / "result.json").read_text()) == {"tensors": 3, "seconds": 0.5}
    lines = (folder / "events.jsonl").read_text().splitlines()
    assert len(lines) == 5 and all(json.loads(line)["event"] for line in lines)
    assert (folder / "stderr.log").read_text() == ""
    meta = json.loads((folder / "stage.json").read_text())
    assert meta["state"] == "succeeded" and meta["exit_code"] == 0
    assert not list(folder.glob(".*.tmp"))  # atomic writes leave no temp files behind


async def test_crashing_stage_fails_with_its_exception_and_full_stderr(stages: Path, tmp_path: Path) -> None:
    stderr_lines: list[str] = []
    outcome = await make_run("crash", stages, tmp_path, on_stderr=stderr_lines.append).run()
    assert outcome.state == "failed" and outcome.exit_code == 1
    assert outcome.error == "stage crash exited with code 1: RuntimeError: scale for model.layers.0.weight is NaN"
    assert outcome.stderr_tail[-1].startswith("RuntimeError")
    stderr = (outcome.run_folder / "stderr.log").read_text()
    assert "a warning before the end" in stderr and "Traceback (most recent call last)" in stderr
    assert "a warning before the end" in stderr_lines
    assert not (outcome.run_folder / "result.json").exists()


async def test_garbage_on_stdout_becomes_log_lines(stages: Path, tmp_path: Path) -> None:
    seen: list[object] = []
    outcome = await make_run("garbage", stages, tmp_path, on_event=seen.append).run()
    assert outcome.state == "succeeded" and outcome.result == {"ok": True}
    raw = [event for event in seen if isinstance(event, str)]
    assert raw[:5] == ["loading weights... 10%", "{not json", "[1, 2, 3]", '{"event": "teleport", "to": "mars"}',
                       '{"event": "progress", "done": "three"}']
    assert raw[5] == "\ufffd\ufffd binary"
    records = [json.loads(line) for line in (outcome.run_folder / "events.jsonl").read_text().splitlines()]
    assert records[0] == {"event": "stdout", "line": "loading weights... 10%"}
    assert records[-1] == {"event": "result", "ok": True}


async def test_exit_zero_without_result_fails(stages: Path, tmp_path: Path) -> None:
    outcome = await make_run("no_result", stages, tmp_path).run()
    assert outcome.state == "failed" and outcome.exit_code == 0
    assert outcome.error == "the stage ended without a result"


async def test_error_event_wins_over_exit_code(stages: Path, tmp_path: Path) -> None:
    outcome = await make_run("error_event", stages, tmp_path).run()
    assert outcome.state == "failed" and outcome.exit_code == 2
    assert outcome.error == "destination /x is not empty; pass --force"


async def test_missing_python_is_a_failed_outcome_not_an_exception(stages: Path, tmp_path: Path) -> None:
    outcome = await make_run("good", stages, tmp_path, python=str(tmp_path / "no-such-python")).run()
    assert outcome.state == "failed" and outcome.exit_code is None
    assert outcome.error is not None and "could not start stage good" in outcome.error


async def test_cancel_kills_the_whole_process_group(stages: Path, tmp_path: Path) -> None:
    run = make_run("spawner", stages, tmp_path)
    events = run.events()
    await run.start()
    stage_pid = run.pid
    assert stage_pid is not None
    first = await asyncio.wait_for(events.__anext__(), 10)
    assert isinstance(first, LogEvent)
    child_pid = int(first.message)
    second = await asyncio.wait_for(events.__anext__(), 10)
    assert second == LogEvent("info", "child deaf to SIGTERM")
    assert psutil.pid_exists(child_pid)

    outcome = await asyncio.wait_for(run.cancel(grace_s=0.5), 10)  # the child ignores SIGTERM: needs SIGKILL
    assert outcome is not None and outcome.state == "cancelled"
    assert run.state == "cancelled"
    for pid in (stage_pid, child_pid):
        assert not _alive(pid), f"process {pid} outlived the cancel"
    assert json.loads((outcome.run_folder / "stage.json").read_text())["state"] == "cancelled"


async def test_a_child_left_behind_by_a_finished_stage_is_stopped(stages: Path, tmp_path: Path) -> None:
    seen: list[object] = []
    run = make_run("leftover", stages, tmp_path, on_event=seen.append, pipe_grace_s=0.2)
    outcome = await asyncio.wait_for(run.run(), 10)  # the child holds stdout open: we must not wait for it
    assert outcome.state == "succeeded" and outcome.result == {"ok": True}
    child_pid = int(next(event.message for event in seen if isinstance(event, LogEvent)))
    assert not _alive(child_pid)


async def test_a_result_line_longer_than_a_pipe_buffer_arrives_whole(stages: Path, tmp_path: Path) -> None:
    outcome = await make_run("huge", stages, tmp_path).run()
    assert outcome.state == "succeeded" and outcome.result is not None
    assert len(outcome.result["blob"]) == 300_000 and outcome.result["n"] == 1


def _alive(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


async def test_cancelling_the_waiting_task_cancels_the_stage(stages: Path, tmp_path: Path) -> None:
    seen: list[object] = []
    child_ready = asyncio.Event()

    def on_event(event: object) -> None:
        seen.append(event)
        if len(seen) == 2:
            child_ready.set()

    run = make_run("spawner", stages, tmp_path, on_event=on_event, cancel_grace_s=0.3)
    task = asyncio.create_task(run.run())
    await asyncio.wait_for(child_ready.wait(), 10)
    stage_pid = run.pid
    assert stage_pid is not None
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert run.state == "cancelled" and not _alive(stage_pid)


async def test_a_failing_event_handler_does_not_stall_the_stage(stages: Path, tmp_path: Path) -> None:
    def broken(event: object) -> None:
        raise ValueError("widget bug")

    outcome = await asyncio.wait_for(make_run("good", stages, tmp_path, on_event=broken).run(), 10)
    assert outcome.state == "succeeded"


async def test_cancel_before_start_never_starts(stages: Path, tmp_path: Path) -> None:
    run = make_run("good", stages, tmp_path)
    assert await run.cancel() is None
    await run.start()
    outcome = await run.wait()
    assert outcome.state == "cancelled" and run.pid is None


def _python_without_npu_console() -> str | None:
    """The venv's base interpreter, which has no npu-console installed (None if it does)."""
    for candidate in (getattr(sys, "_base_executable", ""), os.path.join(sys.base_prefix, "bin", "python3")):
        if candidate and os.path.exists(candidate) and candidate != sys.executable:
            probe = subprocess.run([candidate, "-c", "import tui"], cwd="/", capture_output=True, timeout=30,
                                   env={"PATH": os.environ.get("PATH", "")})
            if probe.returncode != 0:
                return candidate
    return None


def _package_root_of(tui_init: str) -> Path:
    return Path(tui_init).resolve().parent.parent


async def test_a_python_without_npu_console_still_imports_tui(stages: Path, tmp_path: Path) -> None:
    python = _python_without_npu_console()
    if python is None:
        pytest.skip("no interpreter without npu-console on this machine")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    outcome = await make_run("where", stages, tmp_path / "run", python=python, cwd=elsewhere, args=["--x", "1"]).run()
    assert outcome.state == "succeeded", outcome.error
    assert outcome.result is not None
    assert _package_root_of(outcome.result["tui"]) == package_root()
    assert outcome.result["cwd"] == str(elsewhere) and outcome.result["argv"] == ["--x", "1"]


async def test_default_module_is_tui_stages_name(tmp_path: Path) -> None:
    run = StageRun("dequant", ["SRC", "DST"], run_dir=tmp_path, python="/opt/py")
    assert run.argv == ["/opt/py", "-m", "tui.stages.dequant", "SRC", "DST"]


# -- past runs ---------------------------------------------------------------------------------


async def test_list_stage_runs_shows_each_with_state_and_summary(stages: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    await make_run("good", stages, run_dir).run()
    await make_run("crash", stages, run_dir).run()
    (run_dir / "server.log").write_text("not a stage")
    (run_dir / "chats").mkdir()
    runs = list_stage_runs(run_dir)
    by_name = {info.name: info for info in runs}
    assert set(by_name) == {"good", "crash"}
    assert by_name["good"].state == "succeeded" and by_name["good"].summary == "tensors=3, seconds=0.5"
    assert by_name["crash"].state == "failed" and by_name["crash"].error is not None
    assert list_stage_runs(tmp_path / "missing") == []


def test_list_stage_runs_marks_a_dead_running_stage_interrupted(tmp_path: Path) -> None:
    folder = tmp_path / "dequant-20260101-000000"
    folder.mkdir()
    (folder / "stage.json").write_text(json.dumps({"name": "dequant", "state": "running", "pid": 2**22 + 12345,
                                                   "started": "2026-01-01T00:00:00"}))
    (info,) = list_stage_runs(tmp_path)
    assert info.state == "interrupted" and info.result is None and info.summary == ""


def test_summarize_result_keeps_scalars() -> None:
    summary = summarize_result({"a": 1.23456, "b": [1], "c": "x", "d": None, "e": 2, "f": 3})
    assert summary == "a=1.235, c=x, d=None, e=2"
    assert summarize_result(None) == ""


# -- progress meter ----------------------------------------------------------------------------


def test_progress_meter_rate_and_eta() -> None:
    meter = ProgressMeter(alpha=0.5)
    first = meter.update(Progress(0, 100), now=0.0)
    assert first.rate is None and first.eta_s is None and first.fraction == 0.0
    second = meter.update(Progress(10, 100), now=1.0)
    assert second.rate == pytest.approx(10.0) and second.eta_s == pytest.approx(9.0)
    third = meter.update(Progress(40, 100), now=2.0)  # instant 30/s, smoothed 0.5*30 + 0.5*10
    assert third.rate == pytest.approx(20.0) and third.eta_s == pytest.approx(3.0)
    same_tick = meter.update(Progress(45, 100), now=2.0)
    assert same_tick.rate == pytest.approx(20.0)
    done = meter.update(Progress(100, 100), now=3.0)
    assert done.eta_s == 0.0 and done.fraction == 1.0
    restarted = meter.update(Progress(1, 10), now=4.0)  # a new phase from zero forgets the old speed
    assert restarted.rate is None and restarted.eta_s is None
    unknown_total = meter.update(Progress(5), now=5.0)
    assert unknown_total.rate == pytest.approx(4.0) and unknown_total.eta_s is None and unknown_total.fraction is None


# -- device queue ------------------------------------------------------------------------------


async def test_device_queue_runs_one_at_a_time_in_order() -> None:
    changes: list[tuple[str | None, tuple[str, ...]]] = []
    queue = DeviceQueue("npu:0")
    queue.on_change = lambda: changes.append((queue.running, queue.waiting))
    order: list[str] = []
    release_first = asyncio.Event()

    async def job(name: str, hold: asyncio.Event | None = None) -> float:
        async with queue.slot(name) as waited_s:
            order.append(f"start {name}")
            if hold is not None:
                await hold.wait()
            order.append(f"end {name}")
            return waited_s

    first = asyncio.create_task(job("dequant", release_first))
    await asyncio.sleep(0)
    second = asyncio.create_task(job("precision"))
    third = asyncio.create_task(job("bench"))
    await asyncio.sleep(0.05)
    assert (queue.running, queue.waiting) == ("dequant", ("precision", "bench"))
    assert order == ["start dequant"]
    release_first.set()
    waited = await asyncio.gather(first, second, third)
    assert order == ["start dequant", "end dequant", "start precision", "end precision", "start bench", "end bench"]
    assert waited[0] < 0.01 and waited[1] >= 0.04
    assert (queue.running, queue.waiting) == (None, ())
    assert ("dequant", ("precision",)) in changes


async def test_device_queue_cancel_while_waiting_leaves_the_line() -> None:
    queue = DeviceQueue()
    hold = asyncio.Event()

    async def holder() -> None:
        async with queue.slot("a"):
            await hold.wait()

    async def waiter(name: str) -> None:
        async with queue.slot(name):
            pass

    first = asyncio.create_task(holder())
    await asyncio.sleep(0)
    second = asyncio.create_task(waiter("b"))
    third = asyncio.create_task(waiter("c"))
    await asyncio.sleep(0.01)
    second.cancel()
    await asyncio.sleep(0.01)
    assert queue.waiting == ("c",)
    hold.set()
    await asyncio.gather(first, third)
    assert second.cancelled() and queue.running is None


def test_stage_env_puts_the_package_first_and_unbuffers() -> None:
    env = stage_env({"PYTHONPATH": "/a:/b", "X": "1"})
    assert env["PYTHONPATH"].split(os.pathsep) == [str(package_root()), "/a", "/b"]
    assert env["PYTHONUNBUFFERED"] == "1" and env["X"] == "1"


def test_a_site_packages_install_is_shared_through_a_tui_only_folder(tmp_path: Path) -> None:
    site = tmp_path / "lib" / "site-packages"
    (site / "tui").mkdir(parents=True)
    (site / "torch").mkdir()
    shim = importable_root(site)
    assert shim != site and sorted(p.name for p in shim.iterdir()) == ["tui"]
    assert (shim / "tui").resolve() == (site / "tui").resolve()
    assert importable_root(site) == shim  # idempotent
    assert importable_root(tmp_path) == tmp_path  # a source checkout is used as it is


# -- from a profile ----------------------------------------------------------------------------


def test_stage_python_comes_from_the_profile(tmp_path: Path) -> None:
    from tui.profile import ModelSpec, Profile, StageSettings
    from tui.stages.launch import stage_python, stage_run_for

    plain = Profile(name="p", model=ModelSpec(id="x"))
    assert stage_python(plain, {}) == sys.executable
    serving = Profile(name="p", model=ModelSpec(id="x"), stages=StageSettings(python="${ENV_ROOT}/bin/python"))
    assert stage_python(serving, {"ENV_ROOT": "/opt/vllm"}) == "/opt/vllm/bin/python"
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "py-serving").write_text("#!/bin/sh\n")
    (bindir / "py-serving").chmod(0o755)
    by_name = Profile(name="p", model=ModelSpec(id="x"), stages=StageSettings(python="py-serving"))
    assert stage_python(by_name, {"PATH": str(bindir)}) == str(bindir / "py-serving")
    run = stage_run_for(serving, "dequant", ["A", "B"], run_dir=tmp_path, env={"ENV_ROOT": "/e"})
    assert run.argv == ["/e/bin/python", "-m", "tui.stages.dequant", "A", "B"]


async def test_a_runs_folder_that_fills_up_mid_run_is_said_once_and_never_hangs_the_stage(
    stages: Path, tmp_path: Path
) -> None:
    """6 MB of output into a 256 KiB runs folder: the pipes are still drained, the stage ends with its result.

    Before, the failed write killed the reader of stdout; the stage then blocked on a full pipe for good.
    """
    from tests.hostile.helpers import tmpfs

    with tmpfs(tmp_path / "tiny", size="256k") as runs:
        seen: list[object] = []
        run = make_run("chatty", stages, runs, on_event=seen.append)
        outcome = await asyncio.wait_for(run.run(), 120)
        assert outcome.state == "succeeded" and outcome.result == {"lines": 20_000}
        warnings = [e for e in seen if isinstance(e, LogEvent) and e.level == "warning"]
        assert len(warnings) == 1
        assert warnings[0].message.startswith(f"the run folder {outcome.run_folder} could not keep ")
        assert warnings[0].message.endswith("(the disk is full); the stage goes on, but its evidence there is "
                                            "incomplete")
        assert sum(isinstance(e, LogEvent) and e.level == "info" for e in seen) == 20_000
