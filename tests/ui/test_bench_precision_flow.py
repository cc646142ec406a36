"""The benchmark and the precision check driven with Pilot, as an operator would: one key, a choice, the result.

The benchmark runs against the simulated server the console launched itself
(preflight, launch, ready); the precision check runs the real stage on a tiny
real Qwen2 built here, loaded by transformers on the CPU in float32 and bf16.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from textual.widgets import OptionList

from tests.ui.helpers import FixedHost, capture_notes, wait_until
from tests.ui.test_server_area import INSTANT, demo_console, free_port, launch_ready, plain
from tui.app import NpuConsoleApp, make_app
from tui.processes.tree import stop_tree
from tui.profile import PrecisionSettings, load_profile, save_profile, shipped_profiles_dir
from tui.screens.choice import ChoiceScreen
from tui.screens.preflight import PreflightScreen
from tui.sim.demo import prepare_demo_host
from tui.startup.session import ConsoleSession

pytestmark = pytest.mark.slow


async def pick(app: NpuConsoleApp, pilot: object, key: str) -> None:
    """Choose the option `key` on the open ChoiceScreen."""
    await wait_until(pilot, lambda: isinstance(app.screen, ChoiceScreen), what="a choice")  # type: ignore[arg-type]
    options = app.screen.query_one(OptionList)
    index = next(i for i in range(options.option_count) if options.get_option_at_index(i).id == key)
    options.highlighted = index
    await pilot.press("enter")  # type: ignore[attr-defined]


def stage_status(app: NpuConsoleApp) -> str:
    return plain(app, "#stage-status")


@pytest.fixture
def console(tmp_path: Path) -> Iterator[NpuConsoleApp]:
    """The demo console; whatever server a test left running is stopped (its whole tree) afterwards."""
    app = demo_console(tmp_path)
    yield app
    for pid in app.session.launched_pids:
        stop_tree(pid, with_group=True)


async def test_latency_benchmark_from_one_key_against_the_launched_server(console: NpuConsoleApp) -> None:
    app = console
    async with app.run_test(size=(160, 45)) as pilot:
        await launch_ready(app, pilot)
        await pilot.press("b")
        await pick(app, pilot, "latency")
        await wait_until(pilot, lambda: "bench: succeeded" in stage_status(app), timeout=60,
                         what="the benchmark to finish")
        result_text = plain(app, "#stage-result")
        assert "latency benchmark · eager" in result_text
        assert "3 completed · 0 failed" in result_text  # the demo profile's [stages.bench.latency] runs = 3
        run_dir = app.session.run_dir
        assert run_dir is not None
        (folder,) = [p for p in run_dir.iterdir() if p.is_dir() and p.name.startswith("bench")]
        result = json.loads((folder / "result.json").read_text())
        assert result["mode"] == "latency" and result["completed"] == 3 and result["label"] == "eager"
        assert result["mean_latency_ms"] > 0


async def test_comparing_two_variants_launches_each_benchmarks_it_and_shows_the_deltas(
        console: NpuConsoleApp) -> None:
    app = console
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.devices.state is not None and app.devices.state.snapshot is not None,
                         what="the first device reading")
        await pilot.press("b")
        await pick(app, pilot, "variants")
        await pick(app, pilot, "eager")
        await pick(app, pilot, "graph")
        seen: list[object] = []
        for variant in ("eager", "graph"):  # each variant's own preflight, a new screen each time
            await wait_until(pilot, lambda: isinstance(app.screen, PreflightScreen) and app.screen not in seen,
                             timeout=30, what=f"the preflight of {variant}")
            seen.append(app.screen)
            assert app.session.variant == variant
            await pilot.press("enter")
        await wait_until(pilot, lambda: "eager → graph" in plain(app, "#stage-result"), timeout=120,
                         what="the comparison")
        text = plain(app, "#stage-result")
        assert "mean ttft ms" in text and "output throughput" in text and "%" in text
        assert not app.server.status.ours_running, "the last variant's server is stopped after the comparison"
        run_dir = app.session.run_dir
        assert run_dir is not None
        saved = json.loads((run_dir / "compare-eager-vs-graph.json").read_text())
        assert saved["a"] == "eager" and saved["b"] == "graph" and saved["rows"]
        labels = sorted(json.loads((p / "result.json").read_text())["label"]
                        for p in run_dir.iterdir() if p.is_dir() and p.name.startswith("bench"))
        assert labels == ["eager", "graph"]


async def test_benchmark_without_a_server_says_to_launch_one(console: NpuConsoleApp) -> None:
    app = console
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("b")
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceScreen), what="the benchmark choice")
        options = app.screen.query_one(OptionList)
        latency = options.get_option_at_index(0)
        assert latency.id == "latency" and latency.disabled
        assert "no server is ready: launch one (l) or attach (a)" in str(latency.prompt)
        await pilot.press("escape")


def tiny_model_console(tmp_path: Path) -> NpuConsoleApp:
    from tests.real_server import build_tiny_qwen2

    model_dir = tmp_path / "tiny-qwen2"
    build_tiny_qwen2(model_dir)
    host = prepare_demo_host(tmp_path / "sim")
    profile = load_profile(shipped_profiles_dir() / "demo.toml")
    profile = replace(
        profile,
        model=replace(profile.model, path=str(model_dir), source="local"),
        server=replace(profile.server, port=free_port()),
        stages=replace(profile.stages, precision=PrecisionSettings(
            device="cpu", dtype="bfloat16", prompts=("The capital of France is", "Hello, how are you today?"))),
    )
    path = save_profile(profile, tmp_path / "profiles" / "tiny.toml")
    session = ConsoleSession(profile=load_profile(path), runs_root=tmp_path / "runs",
                             env=host.env({**os.environ, **INSTANT}), simulated=True)
    return make_app(session, host_sampler=FixedHost())


async def test_precision_check_from_one_key_gives_a_verdict_per_prompt_and_layer(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    app = tiny_model_console(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("P")
        await pick(app, pilot, "local")
        await wait_until(pilot, lambda: "precision: " in stage_status(app) and " in " in stage_status(app),
                         timeout=600, what="the precision check to finish")
        text = plain(app, "#stage-result")
        assert "PASS" in text, text
        assert "cpu bfloat16 against cpu float32" in text
        assert "The capital of France is" in text and "Layers of" in text
        await pilot.press("4")  # the Stages area has the keys: ] and [ walk the prompts' layers
        await pilot.press("right_square_bracket")
        await wait_until(pilot, lambda: "Layers of “The capital of France is”" in plain(app, "#stage-result"),
                         what="the first prompt's layers")
        await pilot.press("right_square_bracket")
        await wait_until(pilot, lambda: "Layers of “Hello, how are you today?”" in plain(app, "#stage-result"),
                         what="the second prompt's layers")
        await pilot.press("left_square_bracket")
        await wait_until(pilot, lambda: "Layers of “The capital of France is”" in plain(app, "#stage-result"),
                         what="back to the first prompt's layers")
        assert "Next layers" in plain(app, "#keys")
        run_dir = app.session.run_dir
        assert run_dir is not None
        (folder,) = [p for p in run_dir.iterdir() if p.is_dir() and p.name.startswith("precision")]
        result = json.loads((folder / "result.json").read_text())
        assert result["verdict"] == "PASS" and len(result["prompts"]) == 2
        assert result["csv"] and (folder / Path(result["csv"]).name).is_file()


async def test_precision_in_the_demo_without_torch_in_the_stage_python_says_so_in_one_sentence(
        tmp_path: Path) -> None:
    """The simulated folder has no weights: the demo builds a tiny real model, which needs torch."""
    no_torch = tmp_path / "bin" / "python-without-torch"
    no_torch.parent.mkdir()
    no_torch.write_text(f"#!/bin/sh\nexec {sys.executable} -c 'import sys; sys.modules[\"torch\"] = None; "
                        "import runpy; sys.argv = sys.argv[2:]; runpy.run_module(sys.argv[0], run_name=\"__main__\")' "
                        '"$@"\n')
    no_torch.chmod(0o755)
    app = demo_console(tmp_path)
    profile = app.session.profile
    assert profile is not None
    app.session.update_profile(replace(profile, stages=replace(profile.stages, python=str(no_torch))))
    notes = capture_notes(app)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("P")
        await wait_until(pilot, lambda: any("needs torch and safetensors" in note for note in notes), timeout=30,
                         what="the sentence about torch")
        (note,) = [note for note in notes if "needs torch" in note]
        assert note.count(". ") <= 1 and "precision check" in note
        assert not isinstance(app.screen, ChoiceScreen)



async def test_the_demo_model_without_a_run_folder_is_one_sentence(tmp_path: Path) -> None:
    """Building the demo's model needs the run folder; when it cannot be made, that is said, not raised."""
    (tmp_path / "runs").write_text("a file where the run folders should go")
    app = demo_console(tmp_path)
    notes = capture_notes(app)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("P")
        await wait_until(pilot, lambda: any("needs the run folder" in note for note in notes), timeout=30,
                         what="the sentence about the run folder")
        (note,) = [note for note in notes if "needs the run folder" in note]
        assert note.startswith("Building a tiny real model") and note.count(". ") == 0
        await wait_until(pilot, lambda: "needs the run folder" in stage_status(app), what="the stage line")
        assert not isinstance(app.screen, ChoiceScreen)


async def test_precision_on_a_real_host_names_what_the_folder_lacks(tmp_path: Path) -> None:
    folder = tmp_path / "half-downloaded"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    profile = load_profile(shipped_profiles_dir() / "demo.toml")
    profile = replace(profile, model=replace(profile.model, path=str(folder), source="local"))
    session = ConsoleSession(profile=profile, runs_root=tmp_path / "runs", env=dict(os.environ))
    app = make_app(session, host_sampler=FixedHost())
    notes = capture_notes(app)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("P")
        await wait_until(pilot, lambda: any(f"{folder} holds no weights" in note for note in notes),
                         what="the sentence naming the folder without weights")
