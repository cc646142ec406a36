"""Fixtures for the simulated-host tests; the machinery is in `tests.sim.harness`."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from tests.sim.harness import SimServer
from tui.sim.demo import DemoHost, prepare_demo_host


@pytest.fixture
def demo(tmp_path: Path) -> DemoHost:
    return prepare_demo_host(tmp_path / "sim")


@pytest.fixture
def sim_server(demo: DemoHost, tmp_path: Path) -> Iterator[Callable[..., SimServer]]:
    """A factory of servers on the test's demo host; all of them are killed afterwards."""
    servers: list[SimServer] = []

    def start(*args: str, env: Mapping[str, str] | None = None) -> SimServer:
        server = SimServer(demo, tmp_path / f"server-{len(servers)}.log")
        servers.append(server)
        if args:
            return server.start(args[0], *args[1:], env=env)
        return server.start(env=env)

    yield start
    for server in servers:
        server.kill()
