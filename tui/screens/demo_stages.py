"""The demo's stages on real little checkpoints: dequant and precision can be tried without a real host.

A mixin of `NpuConsoleApp`. The simulated host's model folders hold config files
only, so in `--demo` the dequant works on a tiny block-FP8 checkpoint and the
precision check on a tiny real Qwen2, both built on first use in the simulated
host's folder by `python -m tui.sim.demo_checkpoints` under the stage Python
(a few seconds). Without torch and safetensors there, the demo says so in one
sentence.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import App

from tui.session import ConsoleSession
from tui.sim.settings import SIM_HOME_ENV
from tui.stages.events import StageError
from tui.stages.launch import stage_python
from tui.stages.runner import StageOutcome, StageRun

DEMO_FP8 = "tiny-fp8"
DEMO_BF16 = "tiny-fp8-as-bf16"
DEMO_REAL_MODEL = "tiny-qwen2"

if TYPE_CHECKING:
    from widgets.stages_view import StagesView


class DemoStages(App[None]):
    """Builds the demo's checkpoints; the app provides `session`, the Stages area and `_stage_now`."""

    session: ConsoleSession

    if TYPE_CHECKING:  # provided by the other mixins; declared here for the type checker only
        def _stages_view(self) -> StagesView | None: ...

        async def _stage_now(self, name: str, args: list[str], title: str,
                             python: str | None = None) -> StageOutcome: ...

    def _demo_folder(self, name: str) -> Path | None:
        home = self.session.sim_home or (Path(self.session.env[SIM_HOME_ENV]) if self.session.env.get(SIM_HOME_ENV)
                                         else None)
        if home is None:
            self.notify("The simulated host has no folder here to build the demo's checkpoints in.",
                        severity="warning")
            return None
        return home / "models" / name

    def _demo_python(self) -> str:
        profile = self.session.profile
        return stage_python(profile, self.session.env) if profile is not None else sys.executable

    async def _demo_checkpoint(self, kind: str, folder: Path) -> bool:
        """Build the demo's `kind` ("fp8" or "model") checkpoint in `folder` unless it is there; False (and the
        reason said) when it cannot be built."""
        if (folder / "config.json").is_file() and (folder / "model.safetensors").is_file():
            return True
        what = "a tiny FP8 checkpoint" if kind == "fp8" else "a tiny real model"
        view = self._stages_view()
        if view is not None:
            view.clear_stage()
            view.show_stage(Text(f"Demo: building {what} in {folder} (first time only)…"), None, None, True)
        errors: list[str] = []

        def on_event(event: object) -> None:
            if isinstance(event, StageError):
                errors.append(event.message)

        run_dir = self.session.ensure_run_dir()
        stage = StageRun("demo-checkpoint", [kind, str(folder)], run_dir=run_dir, python=self._demo_python(),
                         env=dict(self.session.env), module="tui.sim.demo_checkpoints", on_event=on_event)
        outcome = await stage.run()
        if outcome.ok:
            return True
        sentence = errors[0] if errors else (outcome.error or f"building {what} failed")
        if view is not None:
            view.show_stage(Text(sentence, style="bold red"), None, None, False)
        self.notify(sentence, title="Demo", severity="warning", timeout=12)
        return False

    @work(group="stage")
    async def _run_demo_dequant(self) -> None:
        """The dequant on the demo's tiny FP8 checkpoint (the result is not offered as the profile's model)."""
        source, destination = self._demo_folder(DEMO_FP8), self._demo_folder(DEMO_BF16)
        if source is None or destination is None:
            return
        if await self._demo_checkpoint("fp8", source):
            await self._stage_now("dequant", [str(source), str(destination), "--force"],
                                  f"Dequant (demo) {source} → {destination}")

    async def _demo_precision_model(self) -> Path | None:
        """The demo's tiny real model folder, built if needed; None when it cannot be."""
        folder = self._demo_folder(DEMO_REAL_MODEL)
        if folder is None or not await self._demo_checkpoint("model", folder):
            return None
        return folder
