"""Shared pieces of the hostile tests: mounts where root allows, a CLI in a subprocess with its peak RSS."""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def can_mount() -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None and sys.platform.startswith("linux")


@contextlib.contextmanager
def tmpfs(path: Path, *, size: str = "1m", read_only: bool = False) -> Iterator[Path]:
    """A tmpfs mounted on `path` for the test (skipped where mounting is not allowed), unmounted after."""
    if not can_mount():
        pytest.skip("mounting a tmpfs needs root on Linux")
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"mount -t tmpfs was refused here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(directory: Path) -> None:
    """Fill the file system of `directory` up to its last byte (unbuffered: no flush fails at close)."""
    with open(directory / "filler", "wb", buffering=0) as handle:
        for size in (1 << 16, 4096, 1):
            block = b"\0" * size
            while True:
                try:
                    handle.write(block)
                except OSError:
                    break


@dataclass(frozen=True)
class CliRun:
    returncode: int
    stdout: str
    stderr: str
    peak_rss_mb: float


def run_cli(args: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = 120.0,
            stdin: int | None = subprocess.DEVNULL, cwd: Path | None = None, stdout: int | None = None) -> CliRun:
    """`python -m tui ARGS` in a child; its exit status, output and peak RSS (from `wait4` on that child)."""
    child_env = dict(os.environ if env is None else env)
    child_env["PYTHONPATH"] = str(REPO)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r") as peak:
        process = subprocess.Popen([sys.executable, "-c", _PEAK_WRAPPER, peak.name, *args], stdin=stdin,
                                   stdout=out if stdout is None else stdout, stderr=err, env=child_env, cwd=cwd)
        status, usage = wait_child(process, timeout)
        out.seek(0)
        err.seek(0)
        hwm_kb = peak.read().strip()
        # wait4's ru_maxrss counts what the child inherited at fork (this test process's own size, hundreds of MB
        # late in a suite); the kernel's VmHWM of the child's own address space after exec does not.
        peak_mb = int(hwm_kb) / 1024.0 if hwm_kb.isdigit() else usage.ru_maxrss / 1024.0
        return CliRun(status, out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"), peak_mb)


_PEAK_WRAPPER = """
import atexit, runpy, sys
peak_file = sys.argv.pop(1)
def _write_peak():
    with open("/proc/self/status") as status:
        kb = next((line.split()[1] for line in status if line.startswith("VmHWM:")), "")
    with open(peak_file, "w") as out:
        out.write(kb)
atexit.register(_write_peak)
sys.argv[0] = "npu-console"
runpy.run_module("tui", run_name="__main__", alter_sys=True)
"""


def wait_child(process: subprocess.Popen[bytes], timeout: float) -> tuple[int, resource.struct_rusage]:
    """Reap `process` with `wait4` (its own rusage); killed (and the test failed) past `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid == process.pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return process.returncode, usage
        if time.monotonic() > deadline:
            process.kill()
            os.wait4(process.pid, 0)
            process.returncode = -9
            pytest.fail(f"{process.args!r} did not end within {timeout:g} s")
        time.sleep(0.02)


def one_sentence(stderr: str) -> str:
    """The stderr of a failing CLI: exactly one non-empty line, no traceback."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1, stderr
    return lines[0]
