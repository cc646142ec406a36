"""Real servers on loopback for the client tests: the simulated vLLM, and raw sockets that misbehave on cue.

The simulated server runs as a real process (`vllm serve` through the demo
shim, zero latency), the way the console starts it; the healthy ones are shared
per module, and a test that crashes one (`X-Sim-Fault: die-midstream`) or needs
other flags starts its own. Raw-socket servers run in a thread, so the same
fixture serves async client tests and the synchronous `ask` tests. Every
process is killed as a group in teardown; waits poll with a deadline.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from tests.sim.harness import SimServer
from tui.sim.demo import DEFAULT_MODEL, THINKING_MODEL, DemoHost, prepare_demo_host

INSTANT = {"NPU_CONSOLE_SIM_SPEED": "0", "NPU_CONSOLE_SIM_TTFT_MS": "0", "NPU_CONSOLE_SIM_TPOT_MS": "0"}
START_TIMEOUT_S = 20.0


def started(server: SimServer, model: str, *flags: str, env: Mapping[str, str] | None = None) -> SimServer:
    """`server` started with `model` and `flags`, once it answers."""
    return server.start(model, *flags, env=env).wait_ready()


@pytest.fixture(scope="module")
def sim_demo(tmp_path_factory: pytest.TempPathFactory) -> DemoHost:
    return prepare_demo_host(tmp_path_factory.mktemp("api-sim"))


@pytest.fixture(scope="module")
def sim_url(sim_demo: DemoHost, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A shared, healthy simulated server of the instruct model."""
    server = started(SimServer(sim_demo, tmp_path_factory.mktemp("sim-log") / "server.log"), DEFAULT_MODEL)
    yield server.url
    server.kill()


@pytest.fixture(scope="module")
def thinking_url(sim_demo: DemoHost, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A shared simulated server of the thinking model (reasoning in `reasoning` and `reasoning_content`)."""
    server = started(SimServer(sim_demo, tmp_path_factory.mktemp("sim-log") / "thinking.log"), THINKING_MODEL)
    yield server.url
    server.kill()


@pytest.fixture
def own_sim(sim_demo: DemoHost, tmp_path: Path) -> Iterator[Callable[..., SimServer]]:
    """Start a simulated server for this test alone (to crash it, or with other flags or env)."""
    servers: list[SimServer] = []

    def start(model: str = DEFAULT_MODEL, *flags: str, env: Mapping[str, str] | None = None) -> SimServer:
        server = SimServer(sim_demo, tmp_path / f"server-{len(servers)}.log")
        servers.append(server)
        return started(server, model, *flags, env=env)

    yield start
    for server in servers:
        server.kill()


SSE_HEADERS = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n"
    b"connection: close\r\n\r\n"
)


def chunked(data: bytes) -> bytes:
    """One HTTP/1.1 chunk."""
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


class RawServer:
    """A loopback TCP server in a thread that plays a script against each connection.

    `script(conn)` gets the accepted socket after the request head was read;
    when it returns, the connection is closed abruptly (or held open, if the
    script waits). `closed_by_client` is set once a connection sees EOF from
    the client while the script holds it.
    """

    def __init__(self, script: Callable[[socket.socket, RawServer], None]) -> None:
        self.script = script
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = int(self.listener.getsockname()[1])
        self.accepted = threading.Event()
        self.closed_by_client = threading.Event()
        self.stop = threading.Event()
        self.requests: list[bytes] = []
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept_loop(self) -> None:
        self.listener.settimeout(0.05)
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            head = b""
            conn.settimeout(5)
            with contextlib.suppress(OSError):
                while b"\r\n\r\n" not in head:
                    part = conn.recv(65536)
                    if not part:
                        return
                    head += part
            self.requests.append(head)
            self.accepted.set()
            with contextlib.suppress(OSError):
                self.script(conn, self)

    def hold(self, conn: socket.socket) -> None:
        """Keep the connection open, answering nothing, until the client closes it or the test ends."""
        conn.setblocking(False)
        while not self.stop.is_set():
            readable, _, _ = select.select([conn], [], [], 0.05)
            if readable:
                try:
                    data = conn.recv(65536)
                except BlockingIOError:
                    continue
                if not data:
                    self.closed_by_client.set()
                    return

    def close(self) -> None:
        self.stop.set()
        self.listener.close()
        for thread in self._threads:
            thread.join(timeout=2)
        self._acceptor.join(timeout=2)


@pytest.fixture
def raw_server() -> Iterator[Callable[[Callable[[socket.socket, RawServer], None]], RawServer]]:
    servers: list[RawServer] = []

    def start(script: Callable[[socket.socket, RawServer], None]) -> RawServer:
        server = RawServer(script)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def silent(conn: socket.socket, server: RawServer) -> None:
    """Accept the request and never answer."""
    server.hold(conn)


def one_event_then_hang(conn: socket.socket, server: RawServer) -> None:
    """Headers and one content event, then silence (a server stuck mid-reply)."""
    conn.sendall(SSE_HEADERS)
    event = b'data: {"choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]}\n\n'
    conn.sendall(chunked(event))
    server.hold(conn)


def two_events_then_drop(conn: socket.socket, server: RawServer) -> None:
    """Headers and two content events, then the connection is cut (a crash), mid chunked body."""
    conn.sendall(SSE_HEADERS)
    for word in (b"Hel", b"lo"):
        conn.sendall(chunked(b'data: {"choices":[{"index":0,"delta":{"content":"' + word + b'"}}]}\n\n'))
    time.sleep(0.05)
    conn.shutdown(socket.SHUT_RDWR)
