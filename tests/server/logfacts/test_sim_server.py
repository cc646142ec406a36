"""The simulated vLLM-Ascend server's log, read live and whole, as a real server's would be.

A real `python -m tui.sim.vllm_serve serve <model dir> --port <free port>` runs
against a prepared demo host, in its own session, with its output in a file;
the test tails the file into `LogFacts` as the console's log pane does, and the
server's whole process group is killed in teardown.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from tests.server.logfacts.corpus import read_log
from tui.server.logfacts import LogEvent, LogFacts, PhaseEntered, Ready, parse_log_text
from tui.sim.demo import DemoHost, prepare_demo_host

DEADLINE_S = 20.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    """One simulated `vllm serve` with its log file; `stop()` ends its whole process group."""

    def __init__(self, demo: DemoHost, log_path: Path, env: Mapping[str, str]) -> None:
        self.port = free_port()
        self.log_path = log_path
        full_env = demo.env({**os.environ, "NPU_CONSOLE_SIM_SPEED": "0", "NPU_CONSOLE_SIM_TTFT_MS": "0",
                             "NPU_CONSOLE_SIM_TPOT_MS": "0", **env})
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tui.sim.vllm_serve", "serve", str(demo.model_dir()), "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=full_env,
                start_new_session=True,
            )

    def tail_until_ready(self, reader: LogFacts) -> list[LogEvent]:
        """Feed the growing log to `reader` in whatever pieces arrive, until it reports Ready."""
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        events: list[LogEvent] = []
        deadline = time.monotonic() + DEADLINE_S
        with open(self.log_path, "rb") as log:
            while not any(isinstance(event, Ready) for event in events):
                block = log.read(4096)
                if block:
                    events += reader.feed(decoder.decode(block))
                    continue
                if self.process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"no Ready from the log; server exit {self.process.poll()}:\n{read_log(self.log_path)}")
                time.sleep(0.02)
        return events

    def wait_exit(self) -> int:
        try:
            return self.process.wait(timeout=DEADLINE_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the server did not exit:\n{read_log(self.log_path)[-3000:]}")

    def stop(self) -> None:
        """SIGINT to the whole group, as an operator's Ctrl+C; the fixture kills whatever is left."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    demo = prepare_demo_host(tmp_path / "sim")
    started: list[Served] = []

    def start(**env: str) -> Served:
        served = Served(demo, tmp_path / f"server-{len(started)}.log", env)
        started.append(served)
        return served

    yield start
    for served in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(served.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            served.process.wait(timeout=5)


def test_a_ready_sim_server_log(serve: Callable[..., Served]) -> None:
    served = serve()
    reader = LogFacts()
    events = served.tail_until_ready(reader)
    served.stop()
    whole = parse_log_text(read_log(served.log_path))
    assert reader.facts() == whole  # what the tail saw up to Ready is all the log says
    assert whole["architecture"] == "Qwen2ForCausalLM"
    assert whole["max_model_len"] == 32768 and whole["max_num_batched_tokens"] == 2048
    assert isinstance(whole["weights_gib"], float) and 0.5 < whole["weights_gib"] < 2.0
    assert (whole["graph_max_batch_sizes"], whole["graph_capture_sizes"]) == (72, 35)
    assert whole["compilation"] == "PIECEWISE" and whole["platform"] == "ascend" and whole["engine"] == "V1"
    assert whole["vllm_version"] == "0.18.0" and whole["api_url"] == f"http://0.0.0.0:{served.port}"
    assert whole["ready"] is True and whole["errors"] == [] and whole["root_cause"] is None
    phases = [event for event in events if isinstance(event, PhaseEntered)]
    assert [phase.phase for phase in phases] == [
        "start", "config", "weights_loading", "weights_loaded", "compile", "kv_cache", "graph_capture",
        "api_listening", "ready",
    ]
    assert [phase.at_line for phase in phases] == sorted(phase.at_line for phase in phases)
    assert [phase.name for phase in reader.phases()] == [phase.phase for phase in phases]


def test_a_sim_start_fault_is_an_ascend_error_root_cause(serve: Callable[..., Served]) -> None:
    served = serve(NPU_CONSOLE_SIM_FAULT="startup")
    assert served.wait_exit() != 0
    facts = parse_log_text(read_log(served.log_path))
    cause = facts["root_cause"]
    assert isinstance(cause, dict)
    assert (cause["kind"], cause["code"]) == ("ascend_error", "107001")
    assert "ASCEND_RT_VISIBLE_DEVICES" in str(cause["hint"]) and "npu-smi info -m" in str(cause["hint"])
    errors = facts["errors"]
    assert isinstance(errors, list)
    kinds = [(error["kind"], error["code"]) for error in errors]
    assert ("engine_init_failed", None) in kinds and ("ascend_error", "ERR99999") in kinds
    assert facts["ready"] is False
