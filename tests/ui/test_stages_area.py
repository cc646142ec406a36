"""The Stages area driven with Pilot: a real dequant from one key, its progress, result and files."""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from tests.stages.test_dequant import make_tensors, write_checkpoint  # noqa: E402
from tests.ui.helpers import FixedHost, capture_notes, confirm, wait_until  # noqa: E402
from tui.app import NpuConsoleApp, make_app  # noqa: E402
from tui.profile import DequantSettings, load_profile, save_profile, shipped_profiles_dir  # noqa: E402
from tui.screens.confirm import ConfirmScreen  # noqa: E402
from tui.sim.demo import prepare_demo_host  # noqa: E402
from tui.startup.session import ConsoleSession  # noqa: E402


def console(tmp_path: Path, src: Path, dst: Path) -> NpuConsoleApp:
    host = prepare_demo_host(tmp_path / "sim")
    profile = load_profile(shipped_profiles_dir() / "demo.toml")
    profile = replace(profile, stages=replace(profile.stages, dequant=DequantSettings(str(src), str(dst))))
    path = save_profile(profile, tmp_path / "profiles" / "fp8.toml")
    session = ConsoleSession(profile=load_profile(path), runs_root=tmp_path / "runs", env=host.env(dict(os.environ)))
    return make_app(session, host_sampler=FixedHost())


async def test_dequant_runs_from_one_key_and_offers_the_bf16_model(tmp_path: Path) -> None:
    src = write_checkpoint(tmp_path / "fp8", make_tensors())
    dst = tmp_path / "bf16"
    app = console(tmp_path, src, dst)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), timeout=60,
                         what="the offer to use the BF16 model")
        assert (dst / "config.json").exists() and "quantization_config" not in (dst / "config.json").read_text()
        status = str(app.main.query_one("#stage-status").content)  # type: ignore[attr-defined]
        assert "dequant: succeeded" in status
        await confirm(pilot)
        await wait_until(pilot, lambda: app.session.profile is not None and app.session.profile.model.path == str(dst),
                         what="the profile pointing at the BF16 output")
        profile = app.session.profile
        assert profile is not None and profile.path is not None
        assert str(dst) in profile.path.read_text()
        run_dir = app.session.run_dir
        assert run_dir is not None
        (folder,) = [p for p in run_dir.iterdir() if p.is_dir() and p.name.startswith("dequant")]
        result = json.loads((folder / "result.json").read_text())
        assert result["tensors_converted"] >= 1


async def test_a_profile_without_dequant_settings_says_what_to_set(tmp_path: Path) -> None:
    host = prepare_demo_host(tmp_path / "sim")
    session = ConsoleSession(profile=load_profile(shipped_profiles_dir() / "demo.toml"),
                             runs_root=tmp_path / "runs", env=host.env(dict(os.environ)))
    app = make_app(session, host_sampler=FixedHost())
    notes = capture_notes(app)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("d")
        await wait_until(pilot, lambda: any("[stages.dequant]" in note for note in notes), what="the sentence")


async def test_x_cancels_a_running_stage_and_its_process_group(tmp_path: Path) -> None:
    from tests.stages.test_download import stand_in

    host = prepare_demo_host(tmp_path / "sim")
    profile = load_profile(shipped_profiles_dir() / "qwen2.5-coder-0.5b-ascend.toml")  # a ModelScope model
    env = host.env({**os.environ, "PYTHONPATH": str(stand_in(tmp_path)), "FAKE_MODELSCOPE": "ok",
                    "MODELSCOPE_CACHE": str(tmp_path / "cache")})
    session = ConsoleSession(profile=profile, runs_root=tmp_path / "runs", env=env)
    app = make_app(session, host_sampler=FixedHost())
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("D")
        stages = app.stages_area
        await wait_until(pilot, lambda: stages.running is not None and stages.running.pid is not None, timeout=20,
                         what="the download running")
        pid = app.stages_area.running.pid  # type: ignore[union-attr]
        await pilot.press("x")
        await wait_until(pilot, lambda: "download: cancelled" in str(
            app.main.query_one("#stage-status").content), timeout=20, what="the cancel")  # type: ignore[attr-defined]
        import psutil

        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


async def test_a_stage_that_queues_for_the_device_says_what_it_waits_for(tmp_path: Path) -> None:
    """The waiting line and the start are posted by the stage's worker and drawn by the Stages area."""
    from tests.stages.test_download import stand_in

    host = prepare_demo_host(tmp_path / "sim")
    profile = load_profile(shipped_profiles_dir() / "qwen2.5-coder-0.5b-ascend.toml")  # a ModelScope model
    env = host.env({**os.environ, "PYTHONPATH": str(stand_in(tmp_path)), "FAKE_MODELSCOPE": "ok",
                    "MODELSCOPE_CACHE": str(tmp_path / "cache")})
    app = make_app(ConsoleSession(profile=profile, runs_root=tmp_path / "runs", env=env), host_sampler=FixedHost())
    release = asyncio.Event()

    async def hold_the_device() -> None:
        async with app.stages_area.device_queue.slot("precision"):
            await release.wait()

    def status() -> str:
        return str(app.main.query_one("#stage-status").content)  # type: ignore[attr-defined]

    async with app.run_test(size=(160, 45)) as pilot:
        holder = asyncio.create_task(hold_the_device())
        await wait_until(pilot, lambda: app.stages_area.device_queue.running == "precision", what="the device held")
        await pilot.press("D")
        await wait_until(pilot, lambda: "waiting for precision to finish" in status(), timeout=20,
                         what="the waiting line")
        assert status().startswith("Download Qwen/") and app.stages_area.running is None
        release.set()
        await holder
        await wait_until(pilot, lambda: "download: succeeded" in status(), timeout=60, what="the download's end")
