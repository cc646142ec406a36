"""From command-line choices to a `ConsoleSession`: profile lookup, demo host, runs folder.

Kept apart from the CLI so the tests build sessions exactly the way
`npu-console` does.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from tui.clock import Clock, SystemClock
from tui.files.xdg import data_home, default_runs_dir
from tui.profile import Profile, ProfileError, load_profile, resolve_profile, shipped_profiles_dir
from tui.startup.session import ConsoleSession

DEMO_PROFILE = "demo.toml"
SIM_HOME_VAR = "NPU_CONSOLE_SIM_HOME"


class StartupError(Exception):
    """A sentence saying why the console cannot open, and what to do."""


def build_session(
    *,
    profile: str | None,
    variant: str | None,
    runs_dir: Path | None,
    demo: bool,
    env: Mapping[str, str],
    clock: Clock | None = None,
    move_busy_demo_port: bool = True,
) -> ConsoleSession:
    """Resolve everything the console needs before its first paint."""
    session_env = dict(env)
    sim_home: Path | None = None
    note: str | None = None
    if demo:
        from tui.sim.demo import prepare_demo_host
        from tui.sim.host import install_sim_home

        sim_home = Path(session_env.get(SIM_HOME_VAR) or install_sim_home(data_home()))
        try:
            host = prepare_demo_host(sim_home)
        except OSError as error:
            raise StartupError(
                f"could not prepare the simulated host in {sim_home}: {error.strerror}; "
                f"set {SIM_HOME_VAR} to a writable folder"
            ) from error
        session_env = host.env(session_env)
        note = (
            "This is a simulated NPU host: npu-smi and vllm are stand-ins (tui.sim) "
            "that behave like a 910B machine. Nothing here touches real hardware."
        )
    loaded = _load(profile, demo)
    if demo and loaded is not None and move_busy_demo_port:
        loaded, moved = _demo_port(loaded)
        if moved:
            note = f"{note} Port {moved} is busy here, so the demo server will use {loaded.server.port}."
    if loaded is not None and variant is not None:
        try:
            loaded.variant(variant)
        except ProfileError as error:
            raise StartupError(str(error)) from error
    return ConsoleSession(
        profile=loaded,
        runs_root=(runs_dir or default_runs_dir()).expanduser().absolute(),
        env=session_env,
        clock=clock or SystemClock(),
        simulated=demo,
        sim_home=sim_home,
        variant=variant if variant is not None else (loaded.default_variant if loaded else None),
        startup_note=note,
    )


def _demo_port(profile: Profile) -> tuple[Profile, int | None]:
    """The demo profile moved to a free loopback port when its own is taken (returns the old one).

    Only the demo does this: on a real host a busy port is a finding for preflight,
    not something to paper over.
    """
    wanted = profile.server.port
    if _port_free(profile.server.host, wanted):
        return profile, None
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        free = int(probe.getsockname()[1])
    return replace(profile, server=replace(profile.server, port=free)), wanted


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As preflight's probe and uvicorn do: a socket lingering in TIME_WAIT from the last
        # demo server does not make the port busy (the demo stays on the README's 8000).
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host or "127.0.0.1", port))
        except OSError:
            return False
    return True


def _load(profile: str | None, demo: bool) -> Profile | None:
    try:
        if profile is not None:
            return load_profile(resolve_profile(profile))
        if demo:
            return load_profile(shipped_profiles_dir() / DEMO_PROFILE)
    except ProfileError as error:
        raise StartupError(f"{error}. Fix the profile, or check it with `npu-console profiles validate`.") \
            from error
    except OSError as error:
        raise StartupError(f"could not read the profile: {error}") from error
    return None
