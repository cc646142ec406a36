"""The demo's stages on real little checkpoints: dequant and precision can be tried without a real host.

The simulated host's model folders hold config files only, so in `--demo` the
dequant works on a tiny block-FP8 checkpoint and the precision check on a tiny
real Qwen2, both built on first use in the simulated host's folder by
`python -m tui.sim.demo_checkpoints` under the stage Python (a few seconds).
Without torch and safetensors there, the demo says so in one sentence.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text

from tui.controllers.messages import StageStatusChanged
from tui.failures import os_error_reason
from tui.sim.settings import SIM_HOME_ENV
from tui.stages.events import StageError
from tui.stages.launch import stage_python
from tui.stages.runner import StageRun

if TYPE_CHECKING:
    from tui.app import NpuConsoleApp

DEMO_FP8 = "tiny-fp8"
DEMO_BF16 = "tiny-fp8-as-bf16"
DEMO_REAL_MODEL = "tiny-qwen2"


def _built(folder: Path) -> bool:
    return (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()


class DemoCheckpoints:
    """Builds the demo's checkpoints in the simulated host's folder (used by the stages and precision areas)."""

    def __init__(self, app: NpuConsoleApp) -> None:
        self.app = app

    def folder(self, name: str) -> Path | None:
        session = self.app.session
        home = session.sim_home or (Path(session.env[SIM_HOME_ENV]) if session.env.get(SIM_HOME_ENV) else None)
        if home is None:
            self.app.notify("The simulated host has no folder here to build the demo's checkpoints in.",
                            severity="warning")
            return None
        return home / "models" / name

    def _python(self) -> str:
        session = self.app.session
        return stage_python(session.profile, session.env) if session.profile is not None else sys.executable

    async def build(self, kind: str, folder: Path) -> bool:
        """Build the demo's `kind` ("fp8" or "model") checkpoint in `folder` unless it is there; False (and the
        reason said) when it cannot be built."""
        if await asyncio.to_thread(_built, folder):
            return True
        what = "a tiny FP8 checkpoint" if kind == "fp8" else "a tiny real model"
        self.app.post_message(StageStatusChanged(Text(f"Demo: building {what} in {folder} (first time only)…"),
                                                 busy=True, fresh=True))
        errors: list[str] = []

        def on_event(event: object) -> None:
            if isinstance(event, StageError):
                errors.append(event.message)

        session = self.app.session
        try:
            run_dir = await asyncio.to_thread(session.ensure_run_dir)
        except OSError as error:
            return self._failed(f"Building {what} needs the run folder, and it could not be made: "
                                f"{os_error_reason(error)}.")
        stage = StageRun("demo-checkpoint", [kind, str(folder)], run_dir=run_dir, python=self._python(),
                         env=dict(session.env), module="tui.sim.demo_checkpoints", on_event=on_event)
        outcome = await stage.run()
        if outcome.ok:
            return True
        return self._failed(errors[0] if errors else (outcome.error or f"building {what} failed"))

    def _failed(self, sentence: str) -> bool:
        """Say why the demo's checkpoint was not built, on the stage's line and as a notice; False."""
        self.app.post_message(StageStatusChanged(Text(sentence, style="bold red"), busy=False))
        self.app.notify(sentence, title="Demo", severity="warning", timeout=12)
        return False

    async def precision_model(self) -> Path | None:
        """The demo's tiny real model folder, built if needed; None when it cannot be."""
        folder = self.folder(DEMO_REAL_MODEL)
        if folder is None or not await self.build("model", folder):
            return None
        return folder
