"""`npu-console serve` as an operator runs it: a real process, real signals, the simulated server."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psutil
import pytest

from tui.profile import load_profile, save_profile, shipped_profiles_dir
from tui.sim.demo import prepare_demo_host

INSTANT = {"NPU_CONSOLE_SIM_SPEED": "0", "NPU_CONSOLE_SIM_TTFT_MS": "0", "NPU_CONSOLE_SIM_TPOT_MS": "0"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def demo_profile(tmp_path: Path) -> tuple[Path, dict[str, str], int]:
    """The shipped demo profile on a free port, and the environment with the simulated host on PATH."""
    demo = prepare_demo_host(tmp_path / "sim")
    port = free_port()
    profile = load_profile(shipped_profiles_dir() / "demo.toml")
    path = save_profile(replace(profile, server=replace(profile.server, port=port)), tmp_path / "demo.toml")
    return path, demo.env({**os.environ, **INSTANT}), port


def serve(profile: Path, env: dict[str, str], tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tui", "serve", "--profile", str(profile), "--variant", "eager",
         "--runs-dir", str(tmp_path / "runs"), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


@pytest.fixture
def reaper() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            for child in psutil.Process(process.pid).children(recursive=True):
                child.kill()
            process.kill()
        process.communicate(timeout=10)


def read_until(process: subprocess.Popen[str], marker: str, timeout: float = 30.0) -> list[str]:
    assert process.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line.rstrip("\n"))
        if marker in line:
            return seen
    raise AssertionError(f"{marker!r} not printed; got {seen}")


def test_ctrl_c_stops_the_whole_tree_and_exits_0(
    demo_profile: tuple[Path, dict[str, str], int], tmp_path: Path, reaper: list[subprocess.Popen[str]]
) -> None:
    profile, env, _ = demo_profile
    process = serve(profile, env, tmp_path)
    reaper.append(process)
    printed = read_until(process, "Ready: the API answers.")
    assert any(line.startswith("  ✔ Port") for line in printed)
    assert any("architecture = Qwen2ForCausalLM" in line for line in printed)
    assert any("phase: weights loading" in line for line in printed)
    tree = [child.pid for child in psutil.Process(process.pid).children(recursive=True)]
    assert len(tree) >= 2, "vllm serve and its EngineCore run under the CLI"
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=40)
    assert process.returncode == 0, err
    assert "Stopped" in out
    assert not [pid for pid in tree if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
    (run_dir,) = (tmp_path / "runs" / "demo").iterdir()
    assert (run_dir / "server.log").read_text().count("Application startup complete.") == 1
    assert '"architecture": "Qwen2ForCausalLM"' in (run_dir / "facts.json").read_text()


def test_a_server_that_dies_exits_1_with_the_root_cause(
    demo_profile: tuple[Path, dict[str, str], int], tmp_path: Path, reaper: list[subprocess.Popen[str]]
) -> None:
    profile, env, _ = demo_profile
    process = serve(profile, {**env, "NPU_CONSOLE_SIM_FAULT": "startup"}, tmp_path)
    reaper.append(process)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "root cause: ascend_error" in err
    assert "ASCEND_RT_VISIBLE_DEVICES" in err or "npu-smi" in err
    first, hint, line = err.strip().splitlines()[-3:]
    cause = json.loads((next((tmp_path / "runs" / "demo").iterdir()) / "stop.json").read_text())["root_cause"]
    said = cause.get("message") or cause["text"]
    assert first.startswith("npu-console serve: the server exited with status") and first.endswith(said.strip()), \
        "the root cause in its own words"
    assert hint == f"  what to try: {cause['hint']}"
    assert line.startswith(f"  log line {cause['line']}: ")


def test_failed_preflight_refuses_to_launch_without_force(
    demo_profile: tuple[Path, dict[str, str], int], tmp_path: Path, reaper: list[subprocess.Popen[str]]
) -> None:
    profile, env, port = demo_profile
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        process = serve(profile, env, tmp_path)
        reaper.append(process)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "✘" in out and "preflight check(s) failed" in err and "--force" in err
    assert not (tmp_path / "runs").exists(), "nothing was launched"


# ---- signals, the demo profile, unwritable runs folders ---------------------------------------------------


def descendants(pid: int) -> list[int]:
    return [child.pid for child in psutil.Process(pid).children(recursive=True)]


def alive(pids: list[int]) -> list[int]:
    left = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                left.append(pid)
        except psutil.NoSuchProcess:
            pass
    return left


def only_run_dir(runs: Path, profile: str = "demo") -> Path:
    (run_dir,) = (runs / profile).iterdir()
    return run_dir


def serve_on_a_terminal(argv: list[str], env: dict[str, str],
                        ignore: tuple[int, ...] = ()) -> tuple[subprocess.Popen[bytes], int]:
    """`serve` as in an SSH session or a tmux pane: the session leader of its own terminal (a pty);
    `ignore`: signals it starts with ignored (`nohup … &` ignores SIGHUP and SIGINT)."""
    import fcntl
    import termios

    master, slave = os.openpty()

    def own_terminal() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        for signum in ignore:
            signal.signal(signum, signal.SIG_IGN)

    process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, preexec_fn=own_terminal)
    os.close(slave)
    return process, master


def read_terminal_until(master: int, marker: str, timeout: float = 60.0) -> str:
    import select

    seen = b""
    deadline = time.monotonic() + timeout
    while marker.encode() not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{marker!r} not printed; got {seen.decode(errors='replace')}")
        ready, _, _ = select.select([master], [], [], left)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                raise AssertionError(f"the terminal closed before {marker!r}: {seen.decode(errors='replace')}")
            seen += chunk
    return seen.decode(errors="replace")


class ServeOnTerminal:
    """`serve` on its own pty (see `serve_on_a_terminal`); `hang_up` closes the terminal; on exit nothing of it
    is left, whatever the test found."""

    def __init__(self, argv: list[str], env: dict[str, str], ignore: tuple[int, ...] = ()) -> None:
        self.process, self._master = serve_on_a_terminal(argv, env, ignore)
        self.tree: list[int] = []

    def read_until(self, marker: str) -> str:
        return read_terminal_until(self._master, marker)

    def hang_up(self) -> None:
        """The kernel sends SIGHUP to the terminal's session leader."""
        os.close(self._master)
        self._master = -1

    def __enter__(self) -> ServeOnTerminal:
        return self

    def __exit__(self, *_: object) -> None:
        if self._master >= 0:
            os.close(self._master)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for pid in alive(self.tree):
            os.kill(pid, signal.SIGKILL)


def test_a_hang_up_stops_the_whole_tree_and_exits_129(
    demo_profile: tuple[Path, dict[str, str], int], tmp_path: Path
) -> None:
    """The SSH connection drops (or the tmux session is killed): the terminal hangs up on `serve`."""
    profile, env, _ = demo_profile
    argv = [sys.executable, "-m", "tui", "serve", "--profile", str(profile), "--variant", "eager",
            "--runs-dir", str(tmp_path / "runs")]
    with ServeOnTerminal(argv, env) as serve:
        serve.read_until("Ready: the API answers.")
        serve.tree = descendants(serve.process.pid)
        assert len(serve.tree) >= 2, "vllm serve and its EngineCore run under the CLI"
        serve.hang_up()
        assert serve.process.wait(timeout=60) == 128 + signal.SIGHUP
        assert not alive(serve.tree), "nothing of the server's tree outlives the hang-up"
    stop = json.loads((only_run_dir(tmp_path / "runs") / "stop.json").read_text())
    assert stop["how"] == "stopped" and "SIGHUP" in stop["asked_by"] and stop["survivors"] == []


def test_under_nohup_a_hang_up_leaves_the_server_serving_and_sigterm_stops_it(
    demo_profile: tuple[Path, dict[str, str], int], tmp_path: Path
) -> None:
    """`nohup npu-console serve … &`: the operator asked to survive the SSH drop; `kill PID` still stops the tree."""
    import urllib.request

    profile, env, port = demo_profile
    argv = [sys.executable, "-m", "tui", "serve", "--profile", str(profile), "--variant", "eager",
            "--runs-dir", str(tmp_path / "runs")]
    with ServeOnTerminal(argv, env, ignore=(signal.SIGHUP, signal.SIGINT)) as serve:
        assert "SIGHUP is ignored (nohup)" in serve.read_until("Ready: the API answers.")
        serve.tree = descendants(serve.process.pid)
        serve.hang_up()  # SIGHUP comes, and is ignored as nohup asked
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=30) as reply:
            assert reply.status == 200, "still serving after the terminal went away"
        assert serve.process.poll() is None
        serve.process.send_signal(signal.SIGTERM)
        assert serve.process.wait(timeout=60) == 128 + signal.SIGTERM, "SIGTERM ended it, not the hang-up"
        assert not alive(serve.tree)
    stop = json.loads((only_run_dir(tmp_path / "runs") / "stop.json").read_text())
    assert stop["how"] == "stopped" and "SIGTERM" in stop["asked_by"] and stop["survivors"] == []


def test_sigterm_stops_the_whole_tree_and_exits_143(
    demo_profile: tuple[Path, dict[str, str], int], tmp_path: Path, reaper: list[subprocess.Popen[str]]
) -> None:
    profile, env, _ = demo_profile
    process = serve(profile, env, tmp_path)
    reaper.append(process)
    read_until(process, "Ready: the API answers.")
    tree = descendants(process.pid)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM, err
    assert "SIGTERM: stopping the server's whole tree" in out and "Traceback" not in err
    assert not alive(tree)
    run_dir = only_run_dir(tmp_path / "runs")
    assert json.loads((run_dir / "stop.json").read_text())["asked_by"] == "SIGTERM"


def test_serve_profile_demo_brings_up_the_simulated_host_and_ctrl_c_leaves_nothing(
    tmp_path: Path, reaper: list[subprocess.Popen[str]]
) -> None:
    """The shipped demo profile headless, with nothing prepared: no sim folder, no PATH entry."""
    env = {**os.environ, **INSTANT}
    assert not Path(env["NPU_CONSOLE_SIM_HOME"]).exists()
    process = subprocess.Popen(
        [sys.executable, "-m", "tui", "serve", "--profile", "demo", "--runs-dir", str(tmp_path / "runs")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    reaper.append(process)
    printed = read_until(process, "Ready: the API answers.", timeout=60)
    assert any("simulated NPU host" in line for line in printed)
    tree = descendants(process.pid)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "Stopped" in out and not alive(tree)
    assert (Path(env["NPU_CONSOLE_SIM_HOME"]) / "bin" / "vllm").exists()


def test_demo_flag_before_serve_is_honoured(tmp_path: Path, reaper: list[subprocess.Popen[str]]) -> None:
    env = {**os.environ, **INSTANT}
    process = subprocess.Popen(
        [sys.executable, "-m", "tui", "--demo", "--runs-dir", str(tmp_path / "runs"), "serve",
         "--variant", "dummy"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    reaper.append(process)
    printed = read_until(process, "Ready: the API answers.", timeout=60)
    assert any("--load-format dummy" in line for line in printed)
    tree = descendants(process.pid)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=60)
    assert process.returncode == 0 and not alive(tree)
    assert json.loads((only_run_dir(tmp_path / "runs") / "launch.json").read_text())["variant"] == "dummy"


def test_ctrl_c_during_preflight_says_nothing_was_started(
    tmp_path: Path, reaper: list[subprocess.Popen[str]]
) -> None:
    demo = prepare_demo_host(tmp_path / "sim")
    slow = tmp_path / "slow_env.sh"
    slow.write_text("sleep 60\n")
    profile = load_profile(shipped_profiles_dir() / "demo.toml")
    profile = replace(profile, server=replace(profile.server, port=free_port()),
                      environment=replace(profile.environment, source=(str(slow),)))
    path = save_profile(profile, tmp_path / "slow.toml")
    process = serve(path, demo.env({**os.environ, **INSTANT}), tmp_path)
    reaper.append(process)
    deadline = time.monotonic() + 60
    while not any("sleep" in child.name() for child in psutil.Process(process.pid).children(recursive=True)):
        assert time.monotonic() < deadline and process.poll() is None, "the preflight never sourced the file"
        time.sleep(0.05)
    sourcing = descendants(process.pid)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGINT
    assert "before the launch; nothing was started" in err
    assert "again" not in err and "Traceback" not in err
    assert not alive(sourcing), "the sourcing shell is stopped with the preflight"
    assert not (tmp_path / "runs").exists()


@contextlib.contextmanager
def tmpfs(path: Path, options: str) -> Iterator[Path]:
    """A tmpfs on `path` for the test (skipped where this user may not mount), unmounted after."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        pytest.skip(f"mount was refused here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def unwritable_folder(tmp_path: Path) -> contextlib.AbstractContextManager[Path]:
    """A read-only filesystem where root may mount one, else a folder without write permission."""
    if os.geteuid() == 0:
        return tmpfs(tmp_path / "read-only", "ro,size=1m")
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return contextlib.nullcontext(folder)


def assert_one_sentence(err: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("npu-console serve: "), err
    assert "Traceback" not in err and "Error:" not in err


def test_a_read_only_runs_folder_is_one_sentence_and_nothing_runs(
    demo_profile: tuple[Path, dict[str, str], int], tmp_path: Path, reaper: list[subprocess.Popen[str]]
) -> None:
    profile, env, _ = demo_profile
    with unwritable_folder(tmp_path) as folder:
        process = subprocess.Popen(
            [sys.executable, "-m", "tui", "serve", "--profile", str(profile), "--runs-dir", str(folder / "runs")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        reaper.append(process)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert_one_sentence(err)
    assert "--runs-dir" in err and ("read-only" in err or "permission denied" in err)


def test_a_full_runs_folder_is_one_sentence_and_nothing_runs(
    demo_profile: tuple[Path, dict[str, str], int], tmp_path: Path, reaper: list[subprocess.Popen[str]]
) -> None:
    profile, env, _ = demo_profile
    with tmpfs(tmp_path / "full", "size=64k") as folder:
        with contextlib.suppress(OSError), open(folder / "filler", "wb") as filler:
            while True:
                filler.write(b"\0" * 4096)
                filler.flush()
        process = subprocess.Popen(
            [sys.executable, "-m", "tui", "serve", "--profile", str(profile), "--runs-dir", str(folder / "runs")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        reaper.append(process)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert_one_sentence(err)
    assert "the disk is full" in err


DOUBLE_FORKER = '''
import http.server, os, sys, time
port = int(sys.argv[sys.argv.index("--port") + 1])
pid_file = os.environ["DAEMON_PID_FILE"]
if os.fork() == 0:  # a daemon of the server: fork, setsid, fork again, so it is nobody's child
    os.setsid()
    if os.fork() == 0:
        with open(pid_file + ".tmp", "w") as out:
            out.write(str(os.getpid()))
        os.replace(pid_file + ".tmp", pid_file)
        while True:
            time.sleep(1)
    os._exit(0)
print("(APIServer pid=1) INFO:     Application startup complete.", flush=True)
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"{}")
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
'''


def test_sigterm_also_stops_a_daemon_the_server_double_forked(
    demo_profile: tuple[Path, dict[str, str], int], tmp_path: Path, reaper: list[subprocess.Popen[str]]
) -> None:
    profile_path, env, _ = demo_profile
    script = tmp_path / "double_forker.py"
    script.write_text(DOUBLE_FORKER)
    profile = load_profile(profile_path)
    path = save_profile(replace(profile, server=replace(profile.server, command=(sys.executable, str(script)))),
                        tmp_path / "forker.toml")
    pid_file = tmp_path / "daemon.pid"
    process = serve(path, {**env, "DAEMON_PID_FILE": str(pid_file)}, tmp_path)
    reaper.append(process)
    daemon = 0
    try:
        read_until(process, "Ready: the API answers.")
        deadline = time.monotonic() + 30
        while not pid_file.exists():
            assert time.monotonic() < deadline, "the daemon never started"
            time.sleep(0.05)
        daemon = int(pid_file.read_text())
        others = {os.getsid(pid) for pid in alive(descendants(process.pid)) if pid != daemon}
        others.add(os.getsid(process.pid))
        assert alive([daemon]) and os.getsid(daemon) not in others, "a session of its own: no group of ours holds it"
        assert psutil.Process(daemon).ppid() == process.pid, "serve is its subreaper: the orphan comes to us"
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
        assert process.returncode == 128 + signal.SIGTERM, err
        assert not alive([daemon]), "the double-forked daemon went with its server"
    finally:
        if daemon and alive([daemon]):
            os.kill(daemon, signal.SIGKILL)
