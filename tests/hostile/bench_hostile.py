"""Issue 14's figures: peak RSS of the readers on endless and huge inputs, and time to stop after a hang-up.

    .venv/bin/python tests/hostile/bench_hostile.py

Prints one line per measurement. The readers run as the CLI does, in a child process whose peak RSS comes
from `wait4`; the hang-up is the real console on a pty with its demo server launched (API server,
EngineCore), sent SIGHUP with the terminal closed, timed until the console has exited and nothing of the
server is left.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.hostile.console_pty import Console, console_env
from tests.hostile.helpers import run_cli

VLLM_LINE = b"INFO 12-07 10:00:00 [api_server.py:1] vLLM API server version 0.9.2\n"


def _sparse(path: Path, head: bytes, size: int = 2 << 30) -> Path:
    with open(path, "wb") as handle:
        handle.write(head)
        handle.truncate(size)
    return path


def readers(folder: Path) -> None:
    log = _sparse(folder / "server.log", VLLM_LINE)
    saved = _sparse(folder / "saved.txt", b"")
    cases = [
        ("log facts /dev/zero", ["log", "facts", "/dev/zero"]),
        ("smi --file /dev/zero", ["smi", "--file", "/dev/zero"]),
        ("log facts 2 GB sparse log", ["log", "facts", str(log)]),
        ("smi --file 2 GB sparse file", ["smi", "--file", str(saved)]),
    ]
    for name, args in cases:
        started = time.monotonic()
        run = run_cli(args, timeout=600)
        print(f"{name:<32} exit {run.returncode}  peak RSS {run.peak_rss_mb:6.1f} MB  "
              f"{time.monotonic() - started:5.2f} s")


def _of_the_server(process: psutil.Process) -> bool:
    try:
        return "NPU_CONSOLE_TREE" in process.environ()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def hang_up(folder: Path, signum: int) -> None:
    console = Console(["--demo", "--runs-dir", str(folder / "runs")], console_env(folder))
    try:
        console.wait_text("NPU/chip", 90)
        console.until_drawn("l", "What will run")
        time.sleep(0.5)
        console.press("\r")
        deadline = time.monotonic() + 90
        while not any("engine_core" in " ".join(p.cmdline()) for p in console.descendants()):
            if time.monotonic() > deadline:
                raise SystemExit("the demo server did not start")
            time.sleep(0.1)
        time.sleep(2)
        tree = [p for p in console.descendants() if _of_the_server(p)]  # not a passing npu-smi
        sent = time.monotonic()
        os.kill(console.pid, signum)
        if signum == signal.SIGHUP:
            console.hang_up()
        status = console.process.wait(120)
        exited = time.monotonic() - sent
        while any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in tree):
            time.sleep(0.01)
        gone = time.monotonic() - sent
        print(f"{signal.Signals(signum).name:<7} to the console: exit {status} after {exited:.2f} s; "
              f"its {len(tree)} server processes gone after {gone:.2f} s")
    finally:
        console.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        readers(folder)
        for signum in (signal.SIGHUP, signal.SIGTERM):
            case = folder / signal.Signals(signum).name
            case.mkdir()
            hang_up(case, signum)


if __name__ == "__main__":
    main()
