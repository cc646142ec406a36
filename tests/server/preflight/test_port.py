"""The port check against real sockets and real processes."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Callable, Iterator

import psutil
import pytest

from tests.server.preflight.conftest import make_profile
from tui.server.preflight import check_port, find_listeners, listen_address

LISTEN = (
    "import socket, sys, time\n"
    "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
    "print(s.getsockname()[1], flush=True); time.sleep(60)\n"
)


@pytest.fixture
def listening() -> Iterator[int]:
    """A port this test process listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_busy_port_names_this_process(listening: int) -> None:
    check = check_port("127.0.0.1", listening)
    assert check.status == "fail" and check.key == "port"
    assert f"pid {os.getpid()}" in check.detail
    assert check.offer is None  # pytest is not a vLLM server: nothing to offer
    assert check.fix and "server.port" in check.fix
    listeners = find_listeners(listening)
    assert listeners is not None and [item.pid for item in listeners] == [os.getpid()]


def test_a_vllm_server_on_the_port_is_offered_for_stopping(
    spawn_child: Callable[..., subprocess.Popen[str]],
) -> None:
    child = spawn_child(LISTEN, "vllm", "serve", "Qwen/Qwen2.5-0.5B-Instruct")
    assert child.stdout is not None
    port = int(child.stdout.readline())
    check = check_port("127.0.0.1", port)
    assert check.status == "fail" and "vLLM server" in check.detail
    assert check.offer is not None and check.offer.kind == "stop_process"
    assert check.offer.pids == (child.pid,) and str(child.pid) in check.offer.label


def test_wildcard_listener_blocks_loopback(listening: int) -> None:
    """What uvicorn does: binding 0.0.0.0 is refused while someone listens on the port."""
    assert check_port("0.0.0.0", listening).status == "fail"


def test_free_port_passes() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    check = check_port("127.0.0.1", port)
    assert check.status == "pass" and check.fix is None


def test_holder_not_visible(listening: int, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(kind: str = "inet") -> list[object]:
        raise psutil.AccessDenied()

    monkeypatch.setattr(psutil, "net_connections", denied)
    check = check_port("127.0.0.1", listening)
    assert check.status == "fail" and "could not see which process" in check.detail
    assert check.fix and "ss -ltnp" in check.fix


def test_address_not_on_this_host() -> None:
    check = check_port("192.0.2.1", 8000)  # TEST-NET-1: never an address of a real host
    assert check.status == "fail" and "not an address of this machine" in check.detail


def test_listen_address_follows_the_argv() -> None:
    profile = make_profile(port=8000)
    assert listen_address(["vllm", "serve", "m"], profile) == ("127.0.0.1", 8000)
    assert listen_address(["vllm", "serve", "m", "--port", "8001", "--host=0.0.0.0", "--port=8002"], profile) == (
        "0.0.0.0",
        8002,
    )
