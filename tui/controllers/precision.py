"""The precision check: CPU float32 against the device, or against the running server's logprobs.

It picks the model folder (the demo's tiny real model in `--demo`), asks which
comparison to run, writes the prompts to the run directory and hands the stage
`python -m tui.stages.precision` to the Stages area to run.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from tui.controllers.base import Controller
from tui.controllers.messages import AreaWanted
from tui.files.atomic import atomic_write_json
from tui.screens.choice import Choice, ChoiceScreen
from tui.server.model_location import check_model_folder, locate_model
from tui.stages.stage_args import precision_args


class PrecisionController(Controller):
    """Asks for the precision check and starts it; the stage's progress and result are the Stages area's."""

    def run(self) -> None:
        self.worker(self._run, group="stage-pick", exclusive=True)

    async def _run(self) -> None:
        """CPU fp32 against the device on the profile's model folder, or against the running server's logprobs."""
        profile = self.picked_profile()
        if profile is None:
            return
        location = await asyncio.to_thread(locate_model, profile.model, self.session.env)
        problems = [location.problem] if location.path is None else \
            await asyncio.to_thread(check_model_folder, location.path)
        if (location.path is None or problems) and self.session.simulated:
            # The simulated folder has config files only: the demo checks a tiny real model instead.
            self.app.post_message(AreaWanted("stages"))
            demo_model = await self.app.stages_area.demo.precision_model()
            if demo_model is None:
                return
            location, problems = replace(location, path=demo_model), []
        if location.path is None or problems:
            self.app.notify(f"The precision check loads the model's weights on this host's CPU: {problems[0]}",
                            severity="warning", timeout=10)
            return
        settings = profile.stages.precision
        status = self.app.server.status
        server_up = status.state in ("ready", "attached") and bool(status.url)
        choices = [
            Choice("local", f"Local: CPU float32 against {settings.device} {settings.dtype}",
                   f"loads {location.path} twice in the stage Python; every position, every layer"),
            Choice("api", "API: CPU float32 against the running server's logprobs",
                   "top-1 agreement and top-5 overlap of the server's prompt logprobs, same token ids",
                   problem=None if server_up else "no server is ready: launch one (l) or attach (a)"),
        ]
        picked = await self.app.push_screen_wait(ChoiceScreen("Run precision check", choices))
        if picked is None:
            return
        run_dir = await asyncio.to_thread(self.session.ensure_run_dir)
        prompts_file = run_dir / "precision-prompts.json"
        await asyncio.to_thread(atomic_write_json, prompts_file, list(settings.prompts))
        url = status.url if picked == "api" else None
        args = precision_args(settings, Path(location.path), prompts_file, url=url,
                              served_model=profile.server.served_model_name)
        self.app.post_message(AreaWanted("stages"))
        where = "the server's logprobs" if url else f"{settings.device} {settings.dtype}"
        self.app.stages_area.run_stage("precision", args, f"Precision: CPU float32 vs {where}")
