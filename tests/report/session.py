"""A real console session on the simulated host, made by the CLI as an operator makes it.

`record_session(folder)` launches the demo profile's eager and graph variants in turn with
`npu-console serve`, and against each running server runs `npu-console evidence` and
`npu-console bench serve`; then it stops the server with Ctrl-C (SIGINT). Every file the report reads
comes from these real runs: launch.json, launch.sh, server.log, facts.json, stop.json, environment.json,
the evidence and benchmark stage folders. It returns the run folders, in the order they were made.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import psutil

from tests.sim.harness import INSTANT, free_port
from tests.stages.evidence.conftest import fake_ascend
from tui.profile import load_profile, save_profile, shipped_profiles_dir
from tui.sim.demo import prepare_demo_host

TIMEOUT_S = 120.0
SECRET = "sk-reportmustnevershowthis0123456789"


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "tui", *argv], capture_output=True, text=True, env=env,
                          timeout=TIMEOUT_S)
    assert done.returncode == 0, f"{argv[0]} failed: {done.stderr[-2000:]}"
    return done


def _wait_ready(process: subprocess.Popen[str]) -> None:
    """Read what `serve` prints (stdout and stderr together) until it says the API answers, within a bound."""
    assert process.stdout is not None
    deadline = time.monotonic() + TIMEOUT_S
    seen: list[str] = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 1.0)
        if not ready:
            continue
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        if "Ready: the API answers." in line:
            return
    raise AssertionError("the server did not become ready: " + "".join(seen[-20:]))


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            for child in psutil.Process(process.pid).children(recursive=True):
                child.kill()
            process.kill()
            process.communicate(timeout=10)


def record_session(folder: Path, *, heavy: bool = False) -> list[Path]:
    """Make the session under `folder` and return its run folders (serve, evidence, bench per variant).

    `heavy` adds a precision check (CPU float32 against CPU bfloat16 on a tiny real model the test builds),
    a short GSM8K accuracy run against each server and the FP8 → BF16 dequant of a tiny block-FP8
    checkpoint: the committed fixture has them, the live
    test leaves them out (and checks that the report says they were not run).
    """
    demo = prepare_demo_host(folder / "sim")
    ascend = fake_ascend(folder / "Ascend")
    port = free_port()
    shipped = load_profile(shipped_profiles_dir() / "demo.toml")
    evidence = replace(shipped.stages.evidence, prompts=(*shipped.stages.evidence.prompts, f"repeat {SECRET}"))
    profile = replace(shipped, server=replace(shipped.server, port=port),
                      stages=replace(shipped.stages, evidence=evidence))
    profile_path = save_profile(profile, folder / "demo.toml")
    env = demo.env({**os.environ, **INSTANT, "ASCEND_HOME_PATH": str(ascend / "ascend-toolkit" / "latest")})
    runs = folder / "runs"
    url = f"http://127.0.0.1:{port}"
    for variant in ("eager", "graph"):
        server = subprocess.Popen(
            [sys.executable, "-m", "tui", "serve", "--profile", str(profile_path), "--variant", variant,
             "--runs-dir", str(runs)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        try:
            _wait_ready(server)
            _run(["evidence", "--url", url, "--profile", str(profile_path), "--runs-dir", str(runs),
                  "--ascend-root", str(ascend)], env)
            _run(["bench", "serve", "--url", url, "--num-prompts", "8", "--random-input-len", "32",
                  "--random-output-len", "16", "--ignore-eos", "--label", variant, "--runs-dir", str(runs)], env)
            if heavy:
                _run(["accuracy", "--url", url, "--limit", "8", "--max-tokens", "64", "--runs-dir", str(runs)], env)
        finally:
            _stop(server)
    if heavy:
        model = folder / "tiny-qwen2"
        subprocess.run([sys.executable, "-m", "tui.stages.tiny_model", str(model)], check=True, capture_output=True,
                       timeout=TIMEOUT_S)
        _run(["precision", "--model", str(model), "--device", "cpu", "--runs-dir", str(runs)], env)
        fp8 = folder / "tiny-fp8"
        subprocess.run([sys.executable, "-m", "tui.sim.demo_checkpoints", "fp8", str(fp8)], check=True,
                       capture_output=True, timeout=TIMEOUT_S)
        _run(["dequant", str(fp8), str(folder / "tiny-bf16"), "--runs-dir", str(runs)], env)
    return sorted((path for path in runs.glob("*/*") if path.is_dir()), key=lambda path: path.name)


FIXTURE_PREFIX = "/srv/npu-console-session"


def freeze(folder: Path, target: Path) -> None:
    """Copy the session's run folders to `target` with its temporary folder named FIXTURE_PREFIX in every file."""
    import shutil

    runs = folder / "runs"
    shutil.copytree(runs, target)
    for path in target.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            path.write_text(text.replace(str(folder), FIXTURE_PREFIX), encoding="utf-8")


if __name__ == "__main__":  # python -m tests.report.session TARGET: re-record the committed fixture
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        record_session(Path(scratch), heavy=True)
        freeze(Path(scratch), Path(sys.argv[1]))
