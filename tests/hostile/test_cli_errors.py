"""Issue 14 findings 2 (bench) and 7: every CLI error path is one sentence with the contract's status,
and a signal to `bench` stops its stage before it exits 128+signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from tests.hostile.helpers import REPO, fill, one_sentence, run_cli, tmpfs, wait_child
from tests.sim.harness import SimServer, wait_for
from tui.sim.demo import DEFAULT_MODEL, DemoHost, prepare_demo_host

PROFILE = """name = "t"
[model]
id = "m"
source = "local"
path = "/models/m"
[server]
command = ["vllm", "serve"]
[environment.vars]
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoHost:
    return prepare_demo_host(tmp_path_factory.mktemp("hostile-sim"))


@pytest.fixture(scope="module")
def slow_url(demo: DemoHost, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A simulated vLLM that streams one token every 200 ms: a benchmark against it runs for minutes."""
    server = SimServer(demo, tmp_path_factory.mktemp("slow") / "server.log").start(
        DEFAULT_MODEL, env={"NPU_CONSOLE_SIM_TPOT_MS": "200", "NPU_CONSOLE_SIM_TTFT_MS": "0"}).wait_ready()
    yield server.url
    server.kill()


def _bench_args(url: str, runs_dir: Path) -> list[str]:
    return ["bench", "latency", "--url", url, "--runs", "50", "--max-tokens", "400", "--runs-dir", str(runs_dir)]


def test_bench_into_a_read_only_runs_folder_is_one_sentence(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", read_only=True) as runs:
        run = run_cli(_bench_args("http://127.0.0.1:9", runs))
    assert run.returncode == 2
    sentence = one_sentence(run.stderr)
    assert "cannot create a run folder under" in sentence and "read-only" in sentence


def test_bench_into_a_full_runs_folder_is_one_sentence(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "full", size="64k") as runs:
        fill(runs)
        run = run_cli(_bench_args("http://127.0.0.1:9", runs))
    assert run.returncode == 2
    assert "the disk is full" in one_sentence(run.stderr)


@pytest.mark.parametrize("command", [["profiles", "validate"], ["serve", "--profile"]])
def test_a_nul_in_a_profile_value_is_caught_by_validate_and_serve(command: list[str], tmp_path: Path) -> None:
    profile = tmp_path / "nul.toml"
    profile.write_text(PROFILE + 'X = "a\\u0000b"\n')
    run = run_cli([*command, str(profile)])
    assert run.returncode == 2
    sentence = one_sentence(run.stderr)
    assert "nul.toml:9: environment.vars.X: contains a NUL character" in sentence


@pytest.mark.parametrize("command", [["profiles", "validate"], ["serve", "--profile"], ["profiles", "show"]])
def test_a_5000_deep_toml_array_is_a_sentence(command: list[str], tmp_path: Path) -> None:
    profile = tmp_path / "deep.toml"
    profile.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    run = run_cli([*command, str(profile)])
    assert run.returncode == 2
    assert "nested too deeply" in one_sentence(run.stderr)


def test_smi_json_into_a_closed_pipe_ends_quietly() -> None:
    fixture = Path("/work/shared/fixtures/npu-smi/001_910B3_8npu_24.1.rc1.b030.txt")
    if not fixture.exists():
        fixture = next((REPO / "tests/fixtures/npu-smi").glob("910B3_8npu_*.txt"))
    read, write = os.pipe()
    os.close(read)  # nobody reads: the first write fails with EPIPE
    try:
        run = run_cli(["smi", "--file", str(fixture), "--json"], stdin=subprocess.DEVNULL, stdout=write)
    finally:
        os.close(write)
    assert run.returncode == 141
    assert run.stderr == ""


def _stage_of(bench: subprocess.Popen[bytes], module: str = "tui.stages.bench") -> psutil.Process:
    def find() -> psutil.Process | None:
        try:
            children = psutil.Process(bench.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return None
        return next((child for child in children if module in " ".join(child.cmdline())), None)

    found: psutil.Process = wait_for(find, 60.0, what="the bench stage process")
    return found


def _ignoring(*signums: int) -> Callable[[], None]:
    """A child's start as a shell would make it: a background job ignores SIGINT, `nohup` ignores SIGHUP."""
    def start() -> None:
        for signum in signums:
            signal.signal(signum, signal.SIG_IGN)
    return start


def _signal_a_stage_command(argv: list[str], tmp_path: Path, *signums: int, module: str = "tui.stages.bench",
                            ignoring: tuple[int, ...] = ()) -> tuple[int, psutil.Process, str]:
    """Start `npu-console ARGV` as a shell would (`ignoring` those signals), wait until its stage is at work, send
    `signums` in order: the exit status, the stage's process and what the command said on stderr."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = subprocess.Popen([sys.executable, "-m", "tui", *argv], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                               preexec_fn=_ignoring(*ignoring) if ignoring else None)
    try:
        stage = _stage_of(command, module)
        wait_for(lambda: list((tmp_path / "runs").rglob("requests.jsonl")) or stage.cpu_times().user > 0.2,
                 60.0, what="the stage at work")
        for signum in signums:
            command.send_signal(signum)
        status, _ = wait_child(command, 60.0)
    finally:
        if command.poll() is None:
            command.kill()
            command.wait()
    assert command.stderr is not None
    return status, stage, command.stderr.read().decode()


def _stopped(stage: psutil.Process) -> bool:
    return not stage.is_running() or stage.status() == psutil.STATUS_ZOMBIE


@pytest.mark.parametrize("started", ["foreground", "background"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_to_bench_stops_its_stage_and_exits_128_plus_the_signal(
    signum: int, started: str, slow_url: str, tmp_path: Path
) -> None:
    """Also as `npu-console bench … &` from a script, which starts with SIGINT ignored: `kill` must still stop it."""
    status, stage, err = _signal_a_stage_command(_bench_args(slow_url, tmp_path / "runs"), tmp_path, signum,
                                                 ignoring=(signal.SIGINT,) if started == "background" else ())
    assert status == 128 + signum
    assert _stopped(stage)
    assert "Traceback" not in err
    assert "the stage was stopped" in err


def test_under_nohup_a_hangup_leaves_bench_running_and_sigterm_still_stops_it(slow_url: str, tmp_path: Path) -> None:
    """`nohup npu-console bench … &`: the hang-up is ignored as asked (the status says SIGTERM ended it, not SIGHUP)."""
    status, stage, _ = _signal_a_stage_command(_bench_args(slow_url, tmp_path / "runs"), tmp_path, signal.SIGHUP,
                                               signal.SIGTERM, ignoring=(signal.SIGINT, signal.SIGHUP))
    assert status == 128 + signal.SIGTERM, "the hang-up was ignored, SIGTERM stopped it"
    assert _stopped(stage)


def test_sigterm_to_accuracy_stops_its_stage_and_exits_143(slow_url: str, tmp_path: Path) -> None:
    """Every command that runs a stage stops it first on SIGTERM (it used to die and leave the stage asking)."""
    argv = ["accuracy", "--url", slow_url, "--limit", "20", "--max-tokens", "400", "--runs-dir", str(tmp_path / "runs")]
    status, stage, err = _signal_a_stage_command(argv, tmp_path, signal.SIGTERM, module="tui.stages.accuracy")
    assert status == 128 + signal.SIGTERM
    assert _stopped(stage)
    assert "Traceback" not in err and "interrupted (SIGTERM); the stage was stopped" in err
