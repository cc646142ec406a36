"""The demo's own files: one simulated host per install, and the port it starts on."""

from __future__ import annotations

import socket
from pathlib import Path

from tui.sim.host import install_sim_home
from tui.startup import _port_free


def test_two_checkouts_get_two_simulated_hosts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = install_sim_home(data, tmp_path / "checkout-a" / "npu-console", "/venv-a/bin/python")
    second = install_sim_home(data, tmp_path / "checkout-b" / "npu-console", "/venv-a/bin/python")
    other_python = install_sim_home(data, tmp_path / "checkout-a" / "npu-console", "/venv-b/bin/python")
    again = install_sim_home(data, tmp_path / "checkout-a" / "npu-console", "/venv-a/bin/python")
    assert len({first, second, other_python}) == 3
    assert first == again
    assert first.parent == data / "sim" and first.name.startswith("npu-console-")


def test_a_port_in_time_wait_counts_as_free() -> None:
    """The last demo server's socket lingering in TIME_WAIT must not move the demo off its port."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        assert not _port_free("127.0.0.1", port)  # listening: busy
        accepted.close()  # the server side closes first: its end goes to TIME_WAIT
        client.recv(1)
        client.close()
    assert _port_free("127.0.0.1", port)
