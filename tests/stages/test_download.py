"""The download stage up to the network boundary.

No hub is reachable from these machines, so `modelscope` itself is replaced by
a stand-in package on the stage's PYTHONPATH whose `snapshot_download` writes
files into the cache the way the real one does (escaped folder name, files
appearing over time) or fails the way it does. Everything on our side of that
call — the runner, progress from bytes on disk, the result, the sentences —
runs for real.
"""

from __future__ import annotations

import json
from pathlib import Path

from tui.stages.events import Progress
from tui.stages.runner import StageRun

FAKE_MODELSCOPE = '''
import os, time
from pathlib import Path

def snapshot_download(model_id, revision=None, cache_dir=None):
    mode = os.environ.get("FAKE_MODELSCOPE", "ok")
    if mode == "offline":
        raise ConnectionError("Failed to resolve 'www.modelscope.cn'")
    if mode == "unknown":
        raise ValueError(f"The model: {model_id} not exists")
    org, name = model_id.split("/")
    folder = Path(cache_dir) / "models" / org / name.replace(".", "___")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text("{}")
    with open(folder / "model.safetensors", "wb") as out:
        for _ in range(6):
            out.write(b"\\0" * 512 * 1024)
            out.flush()
            time.sleep(0.2)
    return str(folder)
'''


def stand_in(tmp_path: Path) -> Path:
    package = tmp_path / "fake" / "modelscope"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(FAKE_MODELSCOPE)
    return tmp_path / "fake"


async def run(tmp_path: Path, mode: str | None, *extra: str) -> tuple[StageRun, list[object]]:
    import os

    env = dict(os.environ)
    if mode is not None:
        env["PYTHONPATH"] = str(stand_in(tmp_path))
        env["FAKE_MODELSCOPE"] = mode
    events: list[object] = []
    stage = StageRun("download", ["Qwen/Qwen2.5-Coder-0.5B-Instruct", "--cache-dir", str(tmp_path / "cache"), *extra],
                     run_dir=tmp_path / "run", env=env, on_event=events.append)
    await stage.run()
    return stage, events


async def test_download_reports_progress_and_the_escaped_folder(tmp_path: Path) -> None:
    stage, events = await run(tmp_path, "ok")
    outcome = await stage.wait()
    assert outcome.ok, outcome.error
    assert outcome.result is not None
    assert outcome.result["path"].endswith("models/Qwen/Qwen2___5-Coder-0___5B-Instruct")
    assert outcome.result["bytes"] == 3 * 1024 * 1024 + 2 and outcome.result["has_config"]
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress and progress[-1].unit == "MB" and progress[-1].done > 0
    assert json.loads((outcome.run_folder / "result.json").read_text())["path"] == outcome.result["path"]


async def test_an_unreachable_hub_is_one_sentence(tmp_path: Path) -> None:
    stage, _ = await run(tmp_path, "offline")
    outcome = await stage.wait()
    assert outcome.state == "failed"
    assert outcome.error is not None and "could not download" in outcome.error and "network" in outcome.error


async def test_an_unknown_model_is_one_sentence(tmp_path: Path) -> None:
    stage, _ = await run(tmp_path, "unknown")
    outcome = await stage.wait()
    assert outcome.error is not None and "Check the model id" in outcome.error


async def test_without_modelscope_the_stage_says_how_to_install_it(tmp_path: Path) -> None:
    import importlib.util

    if importlib.util.find_spec("modelscope") is not None:
        import pytest

        pytest.skip("modelscope is installed here")
    stage, _ = await run(tmp_path, None)
    outcome = await stage.wait()
    assert outcome.exit_code == 2 and outcome.error is not None and "modelscope is not installed" in outcome.error
