"""Is the server's port free, and if not, who holds it.

The usual holder is the operator's own previous server, started in another tmux
pane and forgotten; the launch would then die after loading the model with
`[Errno 98] Address already in use`. The check binds the address the way the
server will (SO_REUSEADDR, as uvicorn does, so sockets lingering in TIME_WAIT
do not count), and when that fails looks up the listener with psutil. Seeing
other users' sockets needs privileges: psutil may raise AccessDenied or give no
pid, and the check then says it could not see the process.

Blocking (socket calls, /proc reads): run it in a thread.
"""

from __future__ import annotations

import errno
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass

import psutil

from tui.profile import Profile
from tui.server.preflight.check import Check, Offer, failed, passed
from tui.server.preflight.plan_args import option_value

KEY = "port"

_VLLM_COMMAND = re.compile(r"vllm|VLLM::|EngineCore|VLLMWorker", re.IGNORECASE)
_COMMAND_SHOWN = 100


@dataclass(frozen=True)
class Listener:
    """A process listening on the port: its pid and command line (None: could not be read)."""

    pid: int
    command: str | None

    @property
    def looks_like_vllm(self) -> bool:
        return self.command is not None and _VLLM_COMMAND.search(self.command) is not None


def listen_address(argv: Sequence[str], profile: Profile) -> tuple[str, int]:
    """Where the server will listen: `--host`/`--port` from the argv when given, else the profile's."""
    host = option_value(argv, "--host")
    raw_port = option_value(argv, "--port")
    try:
        port = int(raw_port) if raw_port is not None else profile.server.port
    except ValueError:
        port = profile.server.port
    return (host if host is not None else profile.server.host), port


def check_port(host: str, port: int) -> Check:
    """Pass when `host:port` can be bound now; otherwise say who holds it and how to free it."""
    title = f"Port {port} is free"
    where = f"{host or '*'}:{port}"
    bind_host = host.strip("[]") or None
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            bind_host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as exc:
        return failed(KEY, title, f"the host {host!r} does not resolve ({exc})",
                      "Set server.host in the profile to an address of this machine (127.0.0.1 or 0.0.0.0).")
    try:
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return _busy(title, where, port, find_listeners(port))
        if exc.errno == errno.EADDRNOTAVAIL:
            return failed(KEY, title, f"{host} is not an address of this machine, so nothing can listen on {where}",
                          "Set server.host to 127.0.0.1, 0.0.0.0 or one of this host's addresses.")
        if exc.errno == errno.EACCES:
            return failed(KEY, title, f"binding {where} was refused: ports below 1024 need root",
                          "Set server.port in the profile to a port above 1023, such as 8000.")
        return failed(KEY, title, f"{where} cannot be bound ({exc.strerror or exc})",
                      "Set server.host and server.port in the profile to an address and port this host allows.")
    return passed(KEY, title, f"nothing listens on {where}")


def find_listeners(port: int) -> list[Listener] | None:
    """The processes listening on `port` that psutil lets us see; None when it shows none of them.

    Other users' sockets come back without a pid for an unprivileged user, and some
    systems raise AccessDenied for the whole table.
    """
    try:
        connections = psutil.net_connections(kind="inet")
    except (psutil.AccessDenied, PermissionError, OSError):
        return None
    pids: set[int | None] = {
        conn.pid
        for conn in connections
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port
    }
    visible = sorted(pid for pid in pids if pid is not None)
    if not visible:
        return None
    return [Listener(pid, _command(pid)) for pid in visible]


def _busy(title: str, where: str, port: int, listeners: list[Listener] | None) -> Check:
    another = f"or set server.port in the profile to a free port (e.g. {port + 1})"
    if not listeners:
        return failed(
            KEY, title,
            f"{where} is in use, and npu-console could not see which process holds it "
            "(it belongs to another user or another container)",
            f"Find it with `sudo ss -ltnp 'sport = :{port}'` and stop it, {another}.",
        )
    described = ", ".join(f"pid {item.pid} ({_short(item.command)})" for item in listeners)
    servers = tuple(item.pid for item in listeners if item.looks_like_vllm)
    if servers:
        pids = ", ".join(str(pid) for pid in servers)
        return failed(
            KEY, title, f"{where} is held by a vLLM server: {described}",
            f"Stop that server (pid {pids}) if it is a leftover, {another}.",
            Offer("stop_process", servers, f"Stop the vLLM server on port {port} (pid {pids})"),
        )
    return failed(KEY, title, f"{where} is in use by {described}", f"Stop that process, {another}.")


def _command(pid: int) -> str | None:
    try:
        argv = psutil.Process(pid).cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None
    return " ".join(argv) or None


def _short(command: str | None) -> str:
    if command is None:
        return "command line not readable"
    return command if len(command) <= _COMMAND_SHOWN else command[: _COMMAND_SHOWN - 1] + "…"
