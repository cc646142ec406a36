"""The Stages area: run a stage, show its progress and log, cancel it, list past runs, write the report.

A stage is a subprocess (`python -m tui.stages.X`) under the profile's stage
Python, driven by `tui.stages.runner`; heavy stages take the device one at a
time (a later one waits, and says so). Its events reach the view as messages;
its files land in the run directory.
"""

from __future__ import annotations

import asyncio
import sys
from collections import deque
from dataclasses import replace
from typing import TYPE_CHECKING

from rich.text import Text

from tui.controllers.base import Controller
from tui.controllers.demo_checkpoints import DEMO_BF16, DEMO_FP8, DemoCheckpoints
from tui.controllers.messages import (
    ComparisonReady,
    SessionChanged,
    StageEventArrived,
    StageFinished,
    StageRunPicked,
    StageStatusChanged,
)
from tui.profile import ProfileError, expand_value, save_profile
from tui.screens.choice import Choice, ChoiceScreen
from tui.screens.confirm import ConfirmScreen
from tui.stages.events import LogEvent, Progress, StageError, StageEvent
from tui.stages.launch import stage_python
from tui.stages.runner import DeviceQueue, ProgressMeter, StageOutcome, StageRun, list_stage_runs
from tui.stages.stage_args import accuracy_args
from widgets.stages_view import StagesView

if TYPE_CHECKING:
    from tui.app import NpuConsoleApp

TTFT_HISTORY = 120  # progress events come about 4 a second: half a minute of trend


class StagesController(Controller):
    """Owns the running stage and the device queue that heavy stages wait in."""

    def __init__(self, app: NpuConsoleApp) -> None:
        super().__init__(app)
        self.running: StageRun | None = None  # the stage running now
        self._queue = DeviceQueue()
        self.demo = DemoCheckpoints(app)

    @property
    def device_queue(self) -> DeviceQueue:
        """The line heavy stages wait in for the device (who holds it, who waits)."""
        return self._queue

    def view(self) -> StagesView | None:
        views = self.main.query(StagesView)
        return views.first() if views else None

    # ---- actions ---------------------------------------------------------------------------

    def run_dequant(self) -> None:
        profile = self.session.profile
        settings = profile.stages.dequant if profile else None
        if self.session.simulated and (settings is None or not settings.source):
            self.main.show_area("stages")
            self.worker(self._run_demo_dequant, group="stage")  # the demo's own tiny FP8 checkpoint, for real
            return
        if profile is None or settings is None or not settings.source or not settings.destination:
            self.app.notify("This profile names no FP8 source and BF16 destination: set [stages.dequant] source and "
                            "destination in the profile.", severity="warning", timeout=8)
            return
        src = expand_value(settings.source, self.session.env)
        dst = expand_value(settings.destination, self.session.env)
        args = [src, dst] + (["--block", str(settings.block_size)] if settings.block_size else [])
        self.main.show_area("stages")
        self.run_stage("dequant", args, f"Dequant {src} → {dst}")

    def run_download(self) -> None:
        profile = self.session.profile
        if profile is None or profile.model.source != "modelscope":
            self.app.notify("The download stage fetches ModelScope models; this profile's model is not one.",
                            severity="warning")
            return
        args = [profile.model.id] + (["--revision", profile.model.revision] if profile.model.revision else [])
        self.main.show_area("stages")
        self.run_stage("download", args, f"Download {profile.model.id}")

    def run_accuracy(self) -> None:
        """GSM8K against the ready server with the profile's `[stages.accuracy]` settings (the console's Python)."""
        profile = self.session.profile
        if profile is None:
            self.app.notify("Pick a profile first (p).", severity="warning")
            return
        status = self.app.server.status
        if status.state not in ("ready", "attached") or not status.url:
            self.app.notify("No server is ready: launch one (l) or attach to one (a) first.", severity="warning")
            return
        settings = profile.stages.accuracy
        args = accuracy_args(settings, status.url, model=profile.server.served_model_name,
                             api_key_env=profile.server.api_key_env)
        self.main.show_area("stages")
        self.run_stage("accuracy", args, f"Accuracy: GSM8K, first {settings.limit}, {settings.shots}-shot "
                                          f"{settings.mode}, grader {settings.grader}", python=sys.executable)

    def run_evidence(self) -> None:
        """The profile's evidence prompts at temperature 0, twice each, and the API exchanges as curl."""
        from tui.stages.evidence.options import evidence_args

        profile, status = self.session.profile, self.app.server.status
        if profile is None or status.state not in ("ready", "attached") or not status.url:
            self.app.notify("No server is ready: launch one (l) or attach to one (a) first.", severity="warning")
            return
        python = stage_python(profile, self.session.env) if profile.stages.python else None
        args = evidence_args(profile.stages.evidence, status.url, model=profile.server.served_model_name,
                             api_key_env=profile.server.api_key_env, serving_python=python,
                             server_command=next(iter(profile.server.command), None))
        self.main.show_area("stages")
        self.run_stage("evidence", args, f"Inference evidence {status.url}", python=sys.executable)

    def write_report(self) -> None:
        self.worker(self._write_report, group="report", exclusive=True)

    async def _write_report(self) -> None:
        """report.md/report.json (Chinese) and report.en.md/report.en.json from this session's run folder."""
        from tui.report.build import ReportError, write_session_report

        run_dir = await asyncio.to_thread(self.session.ensure_run_dir)
        try:
            written = await asyncio.to_thread(write_session_report, run_dir)
        except (ReportError, OSError) as error:
            self.app.notify(str(error) if isinstance(error, ReportError) else f"The report could not be written in "
                            f"{run_dir}: {error.strerror or error}", severity="error", timeout=8)
            return
        self.app.notify(f"{written[0]} and {written[1].name} (English: {written[2].name}).", title="Report written")

    async def _run_demo_dequant(self) -> None:
        """The dequant on the demo's tiny FP8 checkpoint (the result is not offered as the profile's model)."""
        source, destination = self.demo.folder(DEMO_FP8), self.demo.folder(DEMO_BF16)
        if source is None or destination is None:
            return
        if await self.demo.build("fp8", source):
            await self.stage_now("dequant", [str(source), str(destination), "--force"],
                                 f"Dequant (demo) {source} → {destination}")

    async def stop_for_quit(self) -> None:
        """A running stage is stopped (its whole process group) before the console goes: nothing outlives us."""
        if self.running is not None:
            self.app.notify("Stopping the running stage first…")
            await self.running.cancel()

    def cancel(self) -> None:
        if self.running is None:
            self.app.notify("No stage is running.", severity="warning")
            return
        self.worker(self.running.cancel, group="stage-cancel")

    def show_runs(self) -> None:
        self.worker(self._show_runs, group="stage-runs", exclusive=True)

    async def _show_runs(self) -> None:
        run_dir = await asyncio.to_thread(self.session.ensure_run_dir)
        runs = await asyncio.to_thread(list_stage_runs, run_dir)
        if not runs:
            self.app.notify("No stage has run in this session yet.")
            return
        choices = [Choice(str(i), f"{run.name} · {run.state}" + (f" · {run.result['label']}" if run.result
                                                                   and run.result.get("label") else ""),
                          run.summary or (run.error or "")) for i, run in enumerate(runs)]
        picked = await self.app.push_screen_wait(ChoiceScreen(f"Stage runs in {run_dir}", choices))
        if picked is not None:
            run = runs[int(picked)]
            self.app.post_message(StageRunPicked(f"{run.name}: {run.state}", run.result, run.error, run.folder))

    # ---- running -----------------------------------------------------------------------------

    def run_stage(self, name: str, args: list[str], title: str, python: str | None = None) -> None:
        """Run the stage in a worker; a finished dequant or download offers its folder as the profile's model."""
        self.worker(self._run_stage, name, args, title, python, group="stage")

    async def _run_stage(self, name: str, args: list[str], title: str, python: str | None = None) -> None:
        outcome = await self.stage_now(name, args, title, python)
        if outcome.ok and name == "dequant" and len(args) >= 2:
            await self._offer_model_path(args[1], "the BF16 output", source="local")
        elif outcome.ok and name == "download" and outcome.result and outcome.result.get("path"):
            await self._offer_model_path(str(outcome.result["path"]), "the downloaded folder", source=None)

    async def stage_now(self, name: str, args: list[str], title: str, python: str | None = None) -> StageOutcome:
        """Run one stage to its end (waiting for the device queue first) and show it; the outcome.

        `python` overrides the profile's stage Python: the benchmark needs only
        the console's own packages (aiohttp), not the serving environment's.
        """
        profile = self.session.profile
        run_dir = await asyncio.to_thread(self.session.ensure_run_dir)
        waiting_for = self._queue.running
        self.app.post_message(StageStatusChanged(
            Text(f"{title}: waiting for {waiting_for} to finish", style="yellow") if waiting_for is not None
            else None, busy=False, fresh=True))
        meter = ProgressMeter()
        ttft_history: deque[float | None] = deque(maxlen=TTFT_HISTORY)

        def on_event(event: StageEvent | str) -> None:
            line = None
            if isinstance(event, Progress) and "ttft_p50_ms" in event.extra:
                value = event.extra.get("ttft_p50_ms")
                ttft_history.append(float(value) if isinstance(value, (int, float)) else None)
            if isinstance(event, Progress):
                reading = meter.update(event)
                line = Text(f"{title} · {event.done:g}/{event.total:g} {event.unit}" if event.total
                            else f"{title} · {event.done:g} {event.unit}")
                if reading.rate is not None:
                    line.append(f" · {reading.rate:.1f} {event.unit}/s")
                if reading.eta_s is not None:
                    line.append(f" · ETA {reading.eta_s:.0f} s")
                accuracy = event.extra.get("accuracy")
                if isinstance(accuracy, (int, float)):
                    line.append(f" · accuracy {accuracy:.2f} %", style="bold")
            self.app.post_message(StageEventArrived(name, event, line, tuple(ttft_history)))

        def on_stderr(text: str) -> None:
            self.app.post_message(StageEventArrived(name, text, None))

        async with self._queue.slot(name):
            if python is None and profile is not None:
                python = stage_python(profile, self.session.env)
            env = dict(self.session.env)
            if profile is not None:  # the profile's variables too: caches, HF_HUB_OFFLINE in ModelScope-only setups
                env.update(profile.effective_env(profile.variant(self.session.variant)))
            stage = StageRun(name, args, run_dir=run_dir, python=python, env=env, on_event=on_event,
                             on_stderr=on_stderr)
            self.running = stage
            self.app.post_message(StageStatusChanged(Text(f"{title}: starting…"), busy=True))
            try:
                outcome = await stage.run()
            finally:
                self.running = None
        self.app.post_message(StageFinished(outcome))
        return outcome

    async def _offer_model_path(self, path: str, what: str, source: str | None) -> None:
        """Point the profile's model at `path` (saved atomically), if the operator wants."""
        profile = self.session.profile
        if profile is None or profile.path is None:
            return
        if profile.model.path and expand_value(profile.model.path, self.session.env) == path:
            return
        question = (f"Point {profile.name}'s model at {what}?\n\n{path}\n\n"
                    f"The profile file {profile.path} is rewritten (atomically); comments in it are not kept.")
        if not await self.app.push_screen_wait(ConfirmScreen("Use this model folder", question, "Use it")):
            return
        model = replace(profile.model, path=path)
        if source == "local":
            model = replace(model, source="local")
        updated = replace(profile, model=model)
        try:
            await asyncio.to_thread(save_profile, updated, profile.path)
        except (OSError, ProfileError) as error:
            self.app.notify(f"Could not save {profile.path}: {error}", severity="error")
            return
        self.session.update_profile(updated)
        self.app.post_message(SessionChanged())
        self.app.notify(f"{profile.name} now serves {path}.")

    # ---- messages --------------------------------------------------------------------------

    def on_comparison_ready(self, message: ComparisonReady) -> None:
        view = self.view()
        comparison = message.comparison
        if view is not None:
            view.show_result(f"Benchmark comparison: {comparison.get('a')} → {comparison.get('b')}", comparison,
                             None, message.folder)
        self.main.show_area("stages")

    def on_stage_status_changed(self, message: StageStatusChanged) -> None:
        view = self.view()
        if view is None:
            return
        if message.fresh:
            view.clear_stage()
        if message.line is not None:
            view.show_stage(message.line, None, None, message.busy)

    def on_stage_run_picked(self, message: StageRunPicked) -> None:
        view = self.view()
        if view is not None:
            view.show_result(message.title, message.result, message.error, message.folder)
            self.main.show_area("stages")

    def on_stage_event_arrived(self, message: StageEventArrived) -> None:
        view = self.view()
        if view is None:
            return
        event = message.event
        if isinstance(event, Progress) and message.line is not None:
            total = int(event.total) if event.total else None
            view.show_stage(message.line, int(event.done), total, True)
            if message.ttft_history:
                view.show_live(event.extra, event.done, event.total, list(message.ttft_history))
        elif isinstance(event, LogEvent):
            view.stage_log([f"{event.level}: {event.message}"])
        elif isinstance(event, StageError):
            view.stage_log([f"error: {event.message}"])
        elif isinstance(event, str):
            view.stage_log([event])

    def on_stage_finished(self, message: StageFinished) -> None:
        view = self.view()
        outcome = message.outcome
        if view is not None:
            style = "bold green" if outcome.ok else "bold red" if outcome.state == "failed" else "yellow"
            view.show_stage(Text(f"{outcome.name}: {outcome.state} in {outcome.seconds:.1f} s", style=style),
                            None, None, False)
            view.show_result(f"{outcome.name}: {outcome.state}", outcome.result, outcome.error, outcome.run_folder)
        if not outcome.ok and outcome.state != "cancelled":  # a cancel was the operator's own: the area says it
            self.app.notify(outcome.error or outcome.state, title=f"{outcome.name} {outcome.state}",
                            severity="error", timeout=10)

