"""Injected faults and the way the simulated server ends: crash, refusal, clean stop."""

from __future__ import annotations

import os
import re
import signal
import socket
from collections.abc import Callable

import httpx
import pytest

from tests.sim.harness import SimServer, free_port, pid_running, run_tool, wait_for
from tests.sim.test_npu_smi import hbm_used, process_rows
from tui.sim.demo import DemoHost
from tui.sim.host import live_records

STREAM = {
    "messages": [{"role": "user", "content": "stream please"}],
    "max_tokens": 60,
    "ignore_eos": True,
    "stream": True,
}


def device_is_idle(demo: DemoHost) -> bool:
    table = run_tool(demo, "npu-smi", "info").stdout
    return process_rows(table) == [] and hbm_used(table)[0] < 3500


def test_startup_fault_prints_an_ascend_error_block_and_exits(demo: DemoHost) -> None:
    result = run_tool(
        demo,
        "vllm",
        "serve",
        str(demo.model_dir()),
        "--port",
        str(free_port()),
        env={"NPU_CONSOLE_SIM_FAULT": "startup"},
    )
    assert result.returncode == 1
    out, err = result.stdout, result.stderr
    error = r"^\(EngineCore pid=\d+\) ERROR \d\d-\d\d \d\d:\d\d:\d\d \[core\.py:\d+\] "
    assert re.search(error + r"EngineCore failed to start\.$", out, re.MULTILINE)
    assert re.search(
        error + r"RuntimeError: Initialize:build/CMakeFiles/torch_npu\.dir/compiler_depend\.ts:\d+ "
        r"NPU function error: c10_npu::SetDevice\(device_id_\), error code is 107001$",
        out,
        re.MULTILINE,
    )
    assert re.search(
        error + r"\[ERROR\] \d{4}-\d\d-\d\d-\d\d:\d\d:\d\d \(PID:\d+, Device:0, RankID:-1\) "
        r"ERR00100 PTA call acl api failed$",
        out,
        re.MULTILINE,
    )
    assert re.search(
        error + r"EE1001: \[PID: \d+\] .* The argument is invalid\.Reason: Set device failed",
        out,
        re.MULTILINE,
    )
    assert "(EngineCore pid=" in err and "Process EngineCore:" in err
    assert re.search(
        r"^\(APIServer pid=\d+\) RuntimeError: Engine core initialization failed\. See root cause "
        r"above\. Failed core proc\(s\): \{\}$",
        err,
        re.MULTILINE,
    )
    assert "Application startup complete." not in out
    assert device_is_idle(demo) and live_records(demo.home) == []


def test_invisible_device_fails_the_same_way(demo: DemoHost) -> None:
    result = run_tool(
        demo,
        "vllm",
        "serve",
        str(demo.model_dir()),
        "--port",
        str(free_port()),
        env={"ASCEND_RT_VISIBLE_DEVICES": "12"},
    )
    assert result.returncode == 1 and "error code is 107001" in result.stdout
    assert "valid device range is [0, 0)" in result.stdout


def test_kv_cache_too_small_fails_like_vllm(demo: DemoHost) -> None:
    result = run_tool(
        demo,
        "vllm",
        "serve",
        str(demo.model_dir("Qwen3-4B-Thinking-2507")),
        "--gpu-memory-utilization",
        "0.4",
        "--port",
        str(free_port()),
    )
    assert result.returncode == 1
    assert "ValueError: To serve at least one request with the model's max seq len (262144)" in result.stdout


def test_port_in_use_fails_like_vllm(demo: DemoHost) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_tool(demo, "vllm", "serve", str(demo.model_dir()), "--host", "127.0.0.1", "--port", str(port))
    assert result.returncode == 1
    assert re.search(r"^\(APIServer pid=\d+\)     sock\.bind\(addr\)$", result.stderr, re.MULTILINE)
    assert re.search(
        r"^\(APIServer pid=\d+\) OSError: \[Errno 98\] Address already in use$", result.stderr, re.MULTILINE
    )
    assert "EngineCore" not in result.stdout + result.stderr, "the port is bound before the engine starts"


def _read_until_the_server_dies(
    server: SimServer, request: dict[str, object], headers: dict[str, str] | None = None
) -> list[str]:
    """Stream `request` and return the lines that arrived before the connection broke."""
    received: list[str] = []
    with (
        httpx.Client(base_url=server.url, timeout=20) as client,
        pytest.raises(httpx.RemoteProtocolError),
        client.stream("POST", "/v1/chat/completions", json=request, headers=headers or {}) as reply,
    ):
        assert reply.status_code == 200
        received.extend(line for line in reply.iter_lines() if line)
    return received


@pytest.mark.parametrize("how", ["env", "header"])
def test_die_midstream_leaves_a_partial_stream_and_no_process(
    how: str, sim_server: Callable[..., SimServer], demo: DemoHost
) -> None:
    env = {"NPU_CONSOLE_SIM_FAULT": "die-midstream"} if how == "env" else {}
    headers = {"X-Sim-Fault": "die-midstream"} if how == "header" else {}
    server = sim_server(env=env).wait_ready()
    engine = server.engine_pid()
    if how == "header":  # requests without the header are unaffected
        with httpx.Client(base_url=server.url, timeout=20) as client:
            assert client.post("/v1/completions", json={"prompt": "fine", "max_tokens": 3}).status_code == 200
    received = _read_until_the_server_dies(server, STREAM, headers)
    assert 2 <= len(received) < 62 and "data: [DONE]" not in received
    assert all(line.startswith("data: {") for line in received)
    assert server.wait_exit() == 1
    wait_for(lambda: not pid_running(engine), what="the EngineCore to exit with its parent")
    wait_for(lambda: device_is_idle(demo), what="npu-smi to show the chip idle again")
    assert live_records(demo.home) == []
    assert "Application shutdown complete." not in server.log()


def test_error_500_header_gives_an_internal_error(sim_server: Callable[..., SimServer]) -> None:
    server = sim_server().wait_ready()
    with httpx.Client(base_url=server.url, timeout=20) as client:
        reply = client.post("/v1/chat/completions", json=STREAM, headers={"X-Sim-Fault": "error-500"})
        assert reply.status_code == 500
        assert reply.json()["error"]["type"] == "InternalServerError"
        assert client.get("/health").status_code == 200, "the server keeps running"


def test_sigterm_to_the_group_stops_cleanly(sim_server: Callable[..., SimServer], demo: DemoHost) -> None:
    server = sim_server().wait_ready()
    engine = server.engine_pid()
    assert not device_is_idle(demo)
    server.signal_group(signal.SIGTERM)
    assert server.wait_exit() == 0
    assert not pid_running(engine)
    log = server.log()
    tail = [line.split(") ", 1)[1] for line in log.splitlines()[-4:]]
    assert re.fullmatch(
        r"INFO \d\d-\d\d \d\d:\d\d:\d\d \[launcher\.py:\d+\] Shutting down FastAPI HTTP server\.", tail[0]
    )
    assert tail[1:] == [
        "INFO:     Shutting down",
        "INFO:     Waiting for application shutdown.",
        "INFO:     Application shutdown complete.",
    ]
    assert device_is_idle(demo) and list((demo.home / "servers").glob("*.json")) == []


def test_sigint_to_the_server_alone_stops_its_engine(sim_server: Callable[..., SimServer], demo: DemoHost) -> None:
    server = sim_server().wait_ready()
    engine = server.engine_pid()
    assert server.process is not None
    server.process.send_signal(signal.SIGINT)
    assert server.wait_exit() == 0
    assert not pid_running(engine) and device_is_idle(demo)


def test_sigterm_during_startup_leaves_nothing_behind(sim_server: Callable[..., SimServer], demo: DemoHost) -> None:
    server = sim_server(env={"NPU_CONSOLE_SIM_SPEED": "0.5"})
    wait_for(lambda: "Loading safetensors checkpoint shards" in server.log(), what="weights to start loading")
    engine = server.engine_pid()
    server.signal_group(signal.SIGTERM)
    assert server.wait_exit() == 0
    wait_for(lambda: not pid_running(engine), what="the EngineCore to exit")
    assert device_is_idle(demo) and live_records(demo.home) == []


def test_killing_the_server_takes_the_engine_down(sim_server: Callable[..., SimServer], demo: DemoHost) -> None:
    server = sim_server().wait_ready()
    engine = server.engine_pid()
    assert server.process is not None
    server.process.kill()
    server.wait_exit()
    wait_for(lambda: not pid_running(engine), what="the orphaned EngineCore to exit")
    wait_for(lambda: device_is_idle(demo), what="the chip to be free")


def test_a_dead_engine_takes_the_server_down(sim_server: Callable[..., SimServer]) -> None:
    server = sim_server().wait_ready()
    engine = server.engine_pid()
    os.kill(engine, signal.SIGKILL)
    assert server.wait_exit() == 1
    assert re.search(
        r"^\(APIServer pid=\d+\) ERROR .* \[core_client\.py:\d+\] Engine core proc EngineCore died "
        r"unexpectedly, shutting down client\.$",
        server.log(),
        re.MULTILINE,
    )
