"""How long `npu-console serve` takes to stop its server after the terminal hangs up (SSH drop, tmux kill).

Runs `serve --profile demo` on a pty as the session leader (as an SSH session
or a tmux pane runs it), waits until the simulated server is ready, closes the
terminal's master side (the kernel sends SIGHUP), and measures the time until
`serve` has exited and until no process of the server's tree is left.

    python -m tests.server.bench_serve_hangup [--runs 3] [--profile tiny-qwen2-cpu]

`--profile` runs another profile (on a free port), the real vLLM CPU build's for instance.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import select
import signal
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

import psutil

INSTANT = {"NPU_CONSOLE_SIM_SPEED": "0", "NPU_CONSOLE_SIM_TTFT_MS": "0", "NPU_CONSOLE_SIM_TPOT_MS": "0"}


def profile_on_a_free_port(name: str, folder: Path) -> str:
    """`name` itself for the demo (it moves off a busy port by itself), else a copy on a free port."""
    if name == "demo":
        return name
    import socket
    from dataclasses import replace

    from tui.profile import load_profile, resolve_profile, save_profile

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    profile = load_profile(resolve_profile(name))
    return str(save_profile(replace(profile, server=replace(profile.server, port=port)), folder / f"{name}.toml"))


def one_hangup(home: Path, profile: str) -> tuple[float, float, int, int]:
    """(seconds to exit, seconds until the tree is gone, exit status, processes in the tree)."""
    env = {**os.environ, **INSTANT, "NPU_CONSOLE_SIM_HOME": str(home / "sim"), "XDG_DATA_HOME": str(home / "data")}
    master, slave = os.openpty()

    def own_terminal() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    process = subprocess.Popen([sys.executable, "-m", "tui", "serve", "--profile", profile], stdin=slave,
                               stdout=slave, stderr=slave, env=env, preexec_fn=own_terminal)
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 300
    while b"Ready: the API answers." not in seen:
        if time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"serve did not get ready: {seen.decode(errors='replace')}")
        if select.select([master], [], [], 1.0)[0]:
            seen += os.read(master, 65536)
    tree = [child.pid for child in psutil.Process(process.pid).children(recursive=True)]
    hung_up = time.monotonic()
    os.close(master)
    status = process.wait(timeout=120)
    exited = time.monotonic() - hung_up
    while any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE for pid in tree):
        time.sleep(0.01)
    gone = time.monotonic() - hung_up
    return exited, gone, status, len(tree)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", default="demo")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="npu-console-hangup-") as tmp:
        profile = profile_on_a_free_port(args.profile, Path(tmp))
        for run in range(1, args.runs + 1):
            exited, gone, status, size = one_hangup(Path(tmp), profile)
            verdict = "ok" if status == 128 + signal.SIGHUP else f"UNEXPECTED exit {status}"
            print(f"run {run}: SIGHUP → serve exited {status} ({verdict}) after {exited:.2f} s; "
                  f"all {size} processes of the server's tree gone after {gone:.2f} s")


if __name__ == "__main__":
    main()
