"""Start-up figures: `npu-console --help` and the first paint of `npu-console --demo`.

Run: `.venv/bin/python tests/bench/bench_startup.py [--runs N]`.

`--help` is timed as a whole process (spawn to exit). First paint is timed as a
user sees it: the console runs on a real pseudo-terminal, and the clock stops
when the bytes of the first full frame (the header and all four area titles at
200x50) have been written to the terminal. The targets are 0.3 s and 1.5 s.
Each figure is the median of N runs; min and max are printed beside it.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

HELP_TARGET_S = 0.3
PAINT_TARGET_S = 1.5
PAINT_MARKERS = (b"npu-console", b"Devices", b"Server", b"Playground", b"Stages")


def console_argv() -> list[str]:
    script = shutil.which("npu-console", path=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    return [script] if script else [sys.executable, "-m", "tui"]


def time_help() -> float:
    started = time.perf_counter()
    subprocess.run([*console_argv(), "--help"], check=True, stdout=subprocess.DEVNULL, timeout=30)
    return time.perf_counter() - started


def time_first_paint(home: Path, columns: int = 200, rows: int = 50, timeout_s: float = 30.0) -> float:
    env = dict(os.environ, TERM="xterm-256color", COLUMNS=str(columns), LINES=str(rows),
               XDG_DATA_HOME=str(home / "data"), XDG_CONFIG_HOME=str(home / "config"),
               NPU_CONSOLE_SIM_HOME=str(home / "sim"))
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    started = time.perf_counter()
    process = subprocess.Popen(
        [*console_argv(), "--demo"], stdin=slave, stdout=slave, stderr=slave, env=env,
        start_new_session=True, close_fds=True,
    )
    os.close(slave)
    seen = b""
    try:
        while True:
            remaining = timeout_s - (time.perf_counter() - started)
            if remaining <= 0:
                raise TimeoutError(f"no first paint within {timeout_s} s; output so far: {seen[-400:]!r}")
            ready, _, _ = select.select([master], [], [], remaining)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:
                raise RuntimeError(f"the console exited before painting: {seen[-400:]!r}") from None
            seen += chunk
            if all(marker in seen for marker in PAINT_MARKERS):
                return time.perf_counter() - started
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        os.close(master)


def summary(name: str, samples: list[float], target: float) -> str:
    median = statistics.median(samples)
    verdict = "meets" if median < target else "MISSES"
    return (f"{name}: median {median:.3f} s (min {min(samples):.3f}, max {max(samples):.3f}, n={len(samples)}) "
            f"— target {target} s, {verdict} it (ratio {median / target:.2f} of target)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    time_help()  # warm the page cache and .pyc files once, as a second invocation by an operator would
    help_samples = [time_help() for _ in range(args.runs)]
    print(summary("npu-console --help", help_samples, HELP_TARGET_S), flush=True)
    with tempfile.TemporaryDirectory(prefix="npu-console-bench-") as tmp:
        time_first_paint(Path(tmp))  # warm-up
        paint_samples = [time_first_paint(Path(tmp)) for _ in range(args.runs)]
    print(summary("npu-console --demo first paint (200x50)", paint_samples, PAINT_TARGET_S), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
