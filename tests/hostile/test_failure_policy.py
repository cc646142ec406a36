"""Issue 14 finding 1 in the app itself (Pilot): a failing worker is one redacted sentence and the console
goes on; any other failure stops the server we launched and exits 1 with one sentence. Never a traceback
or an environment value on screen (Textual's default prints both, locals included)."""

from __future__ import annotations

import os
from pathlib import Path

import psutil
import pytest

from tests.sim.harness import INSTANT, free_port, wait_for
from tests.ui.helpers import capture_notes, wait_until
from tui.app import NpuConsoleApp, make_app
from tui.profile import load_profile, shipped_profiles_dir
from tui.screens.preflight import PreflightScreen
from tui.sim.demo import prepare_demo_host
from tui.startup.session import ConsoleSession

SECRET = "hf_" + "Pil0tS3cretValue" * 2


def _console(tmp_path: Path) -> NpuConsoleApp:
    from dataclasses import replace

    demo = prepare_demo_host(tmp_path / "sim")
    profile = load_profile(shipped_profiles_dir() / "demo.toml")
    profile = replace(profile, server=replace(profile.server, port=free_port()))
    env = demo.env({**os.environ, **INSTANT})
    session = ConsoleSession(profile=profile, runs_root=tmp_path / "runs", env=env, simulated=True, variant="eager")
    return make_app(session, device_interval_s=0.5)


def _alive(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


async def test_a_failing_worker_is_one_redacted_sentence_and_the_console_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", SECRET)
    app = _console(tmp_path)
    notes = capture_notes(app)

    async def broken() -> None:
        raise RuntimeError(f"the environment was {dict(os.environ)} [/not markup]")

    with pytest.raises(RuntimeError):  # Textual's test harness re-raises it once the app has closed
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_until(pilot, lambda: app.session.run_dir is not None, what="the run folder")
            app.run_worker(broken(), group="stage-runs")
            await wait_until(pilot, lambda: any("failed" in note for note in notes), what="the sentence")
            sentence = next(note for note in notes if "failed" in note)
            assert sentence.startswith("Listing the stage runs (w) failed: RuntimeError: the environment was {")
            assert SECRET not in sentence and "'HF_TOKEN': '***'" in sentence
            await pilot.press("3")
            assert app.is_running and app.return_code is None
    run_dir = app.session.run_dir
    assert run_dir is not None
    detail = (run_dir / "console.log").read_text()
    assert "Traceback (most recent call last)" in detail and "in broken" in detail
    assert SECRET not in detail


async def test_a_fatal_error_stops_our_server_and_exits_1_with_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", SECRET)
    app = _console(tmp_path)
    tree: list[int] = []
    said: list[str] = []
    original_exit = app.exit

    def exit_and_record(result: None = None, return_code: int = 0, message: object = None) -> None:
        if message is not None:
            said.append(str(message))
        original_exit(result, return_code, message)  # type: ignore[arg-type]

    app.exit = exit_and_record  # type: ignore[method-assign]

    def fatal() -> None:
        raise KeyError(f"token {SECRET} [bold]not markup[/]")

    with pytest.raises(KeyError):
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_until(pilot, lambda: app.devices.state is not None and app.devices.state.snapshot is not None,
                             what="the first device reading")
            await pilot.press("l")
            await wait_until(pilot, lambda: isinstance(app.screen, PreflightScreen), what="the preflight")
            await pilot.press("enter")
            await wait_until(pilot, lambda: app.server.status.state == "ready", timeout=30, what="the server")
            pid = app.server.status.pid
            assert pid is not None
            tree = [pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))]
            app.call_later(fatal)
            await wait_until(pilot, lambda: app.return_code == 1, what="the fatal exit")
    assert tree and len(tree) >= 2
    wait_for(lambda: not any(_alive(pid) for pid in tree), 30, what="the server's tree stopped")
    expected = "npu-console: The console failed: KeyError: 'token *** [bold]not markup[/]'. It stopped"
    assert len(said) == 1 and said[0].startswith(expected)  # brackets kept as text, not taken as markup
    assert "\n" not in said[0]
    run_dir = app.session.run_dir
    assert run_dir is not None
    detail = (run_dir / "console.log").read_text()
    assert "The console failed: KeyError" in detail and SECRET not in detail


async def test_a_redraw_racing_the_close_is_logged_and_ends_nothing(tmp_path: Path) -> None:
    """A timer's redraw (the uptime, once a second) can tick while the closing app takes its widgets down: Textual
    then raises NoMatches. That must not turn a clean quit into "The console failed" and exit 1 (it did, in CI)."""
    from textual.css.query import NoMatches

    app = _console(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.session.run_dir is not None, what="the run folder")
        assert app.is_running
    assert not app.is_running
    app._handle_exception(NoMatches("No nodes match '#server-status' on ServerView(id='server')"))
    assert app.return_code in (0, None) and app._exception is None
    run_dir = app.session.run_dir
    assert run_dir is not None
    assert "While closing, the console failed: NoMatches" in (run_dir / "console.log").read_text()
