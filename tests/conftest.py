"""Test-wide isolation: no test reads or writes the operator's real config, data or sim folders."""

from __future__ import annotations

import signal
from collections.abc import Generator
from pathlib import Path

import pytest

from tests.leftovers import LeftoverGuard, become_subreaper

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """XDG folders and the simulated host's home in a fresh temporary folder; cwd there too.

    Running from the repo root would otherwise make its `profiles/` the "cwd"
    profiles of every test.
    """
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("NPU_CONSOLE_SIM_HOME", str(home / "sim"))
    # One cache for the session (the engine's flag list takes seconds to ask for), never the operator's.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.chdir(home)
    return home


_GUARD = LeftoverGuard()


def pytest_sessionstart(session: pytest.Session) -> None:
    become_subreaper()
    # The suite starts its commands as a terminal would, whatever started the suite: under `nohup` or as a
    # script's background job, SIGHUP/SIGINT come in ignored, and children would inherit that. The tests that
    # mean such a start say so themselves (`nohup` and `&` cases in tests/hostile and tests/server).
    if signal.getsignal(signal.SIGHUP) is signal.SIG_IGN:
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    yield
    _GUARD.note(item.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    survivors = _GUARD.survivors()
    if survivors:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = ["processes started by the tests outlived the suite (now killed):", *survivors]
        if reporter is not None:
            reporter.write_line("\n  ".join(lines), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
