"""The Stages area's behaviour on the app: run a stage, show its progress and log, cancel, past runs.

A mixin of `NpuConsoleApp`. A stage is a subprocess (`python -m tui.stages.X`)
under the profile's stage Python, driven by `tui.stages.runner`; heavy stages
take the device one at a time (a later one waits, and says so). Its events
reach the view as messages; its files land in the run directory.
"""

from __future__ import annotations

import asyncio
import sys
from collections import deque
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import App
from textual.message import Message

from tui.atomic import atomic_write_json
from tui.profiles import ProfileError, expand_value, save_profile
from tui.screens.choice import Choice, ChoiceScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.main import MainScreen
from tui.screens.server_control import ServerControl
from tui.server.model_location import check_model_folder, locate_model
from tui.session import ConsoleSession
from tui.stages.events import LogEvent, Progress, StageError, StageEvent
from tui.stages.launch import stage_python
from tui.stages.runner import DeviceQueue, ProgressMeter, StageOutcome, StageRun, list_stage_runs
from tui.stages.stage_args import accuracy_args, precision_args
from widgets.stages_view import StagesView

TTFT_HISTORY = 120  # progress events come about 4 a second: half a minute of trend


class StageEventArrived(Message):
    """One line from the running stage, parsed (or raw text), with the progress reading when it is one.

    `ttft_history` is the benchmark's running TTFT p50, one value per progress
    event so far (bounded), for the sparkline; empty for other stages.
    """

    def __init__(self, name: str, event: StageEvent | str, line: Text | None,
                 ttft_history: tuple[float | None, ...] = ()) -> None:
        super().__init__()
        self.name = name
        self.event = event
        self.line = line
        self.ttft_history = ttft_history


class StageFinished(Message):
    def __init__(self, outcome: StageOutcome) -> None:
        super().__init__()
        self.outcome = outcome


class ComparisonReady(Message):
    """Two benchmark results compared (`tui.stages.bench.compare` rows), and where the comparison was saved."""

    def __init__(self, comparison: Mapping[str, Any], folder: Path | None) -> None:
        super().__init__()
        self.comparison = comparison
        self.folder = folder


class StageActions(App[None]):
    """Stage reactions; the app provides `session`, `server`, `main`, `_stage`, `_stage_queue`."""

    session: ConsoleSession
    server: ServerControl
    _stage: StageRun | None
    _stage_queue: DeviceQueue

    if TYPE_CHECKING:  # provided by the app; declared here for the type checker only
        @property
        def main(self) -> MainScreen: ...

        def _show_profile(self) -> None: ...

        def _run_demo_dequant(self) -> object: ...

        async def _demo_precision_model(self) -> Path | None: ...

    def _stages_view(self) -> StagesView | None:
        views = self.main.query(StagesView)
        return views.first() if views else None

    # ---- actions ---------------------------------------------------------------------------

    def action_run_dequant(self) -> None:
        profile = self.session.profile
        settings = profile.stages.dequant if profile else None
        if self.session.simulated and (settings is None or not settings.source):
            self.main.show_area("stages")
            self._run_demo_dequant()  # the demo's own tiny FP8 checkpoint: the stage runs for real
            return
        if profile is None or settings is None or not settings.source or not settings.destination:
            self.notify("This profile names no FP8 source and BF16 destination: set [stages.dequant] source and "
                        "destination in the profile.", severity="warning", timeout=8)
            return
        src = expand_value(settings.source, self.session.env)
        dst = expand_value(settings.destination, self.session.env)
        args = [src, dst] + (["--block", str(settings.block_size)] if settings.block_size else [])
        self.main.show_area("stages")
        self._run_stage("dequant", args, f"Dequant {src} → {dst}")

    def action_run_download(self) -> None:
        profile = self.session.profile
        if profile is None or profile.model.source != "modelscope":
            self.notify("The download stage fetches ModelScope models; this profile's model is not one.",
                        severity="warning")
            return
        args = [profile.model.id] + (["--revision", profile.model.revision] if profile.model.revision else [])
        self.main.show_area("stages")
        self._run_stage("download", args, f"Download {profile.model.id}")

    @work(group="stage-pick", exclusive=True)
    async def action_run_precision(self) -> None:
        """CPU fp32 against the device on the profile's model folder, or against the running server's logprobs."""
        profile = self.session.profile
        if profile is None:
            self.notify("Pick a profile first (p).", severity="warning")
            return
        location = await asyncio.to_thread(locate_model, profile.model, self.session.env)
        problems = [location.problem] if location.path is None else \
            await asyncio.to_thread(check_model_folder, location.path)
        if (location.path is None or problems) and self.session.simulated:
            # The simulated folder has config files only: the demo checks a tiny real model instead.
            self.main.show_area("stages")
            demo_model = await self._demo_precision_model()
            if demo_model is None:
                return
            location, problems = replace(location, path=demo_model), []
        if location.path is None or problems:
            self.notify(f"The precision check loads the model's weights on this host's CPU: {problems[0]}",
                        severity="warning", timeout=10)
            return
        settings = profile.stages.precision
        status = self.server.status
        server_up = status.state in ("ready", "attached") and bool(status.url)
        choices = [
            Choice("local", f"Local: CPU float32 against {settings.device} {settings.dtype}",
                   f"loads {location.path} twice in the stage Python; every position, every layer"),
            Choice("api", "API: CPU float32 against the running server's logprobs",
                   "top-1 agreement and top-5 overlap of the server's prompt logprobs, same token ids",
                   problem=None if server_up else "no server is ready: launch one (l) or attach (a)"),
        ]
        picked = await self.push_screen_wait(ChoiceScreen("Run precision check", choices))
        if picked is None:
            return
        run_dir = await asyncio.to_thread(self.session.ensure_run_dir)
        prompts_file = run_dir / "precision-prompts.json"
        await asyncio.to_thread(atomic_write_json, prompts_file, list(settings.prompts))
        url = status.url if picked == "api" else None
        args = precision_args(settings, Path(location.path), prompts_file, url=url,
                              served_model=profile.server.served_model_name)
        self.main.show_area("stages")
        where = "the server's logprobs" if url else f"{settings.device} {settings.dtype}"
        self._run_stage("precision", args, f"Precision: CPU float32 vs {where}")

    def action_run_accuracy(self) -> None:
        """GSM8K against the ready server with the profile's `[stages.accuracy]` settings (the console's Python)."""
        profile = self.session.profile
        if profile is None:
            self.notify("Pick a profile first (p).", severity="warning")
            return
        status = self.server.status
        if status.state not in ("ready", "attached") or not status.url:
            self.notify("No server is ready: launch one (l) or attach to one (a) first.", severity="warning")
            return
        settings = profile.stages.accuracy
        args = accuracy_args(settings, status.url, model=profile.server.served_model_name,
                             api_key_env=profile.server.api_key_env)
        self.main.show_area("stages")
        self._run_stage("accuracy", args, f"Accuracy: GSM8K, first {settings.limit}, {settings.shots}-shot "
                                          f"{settings.mode}, grader {settings.grader}", python=sys.executable)

    def action_run_evidence(self) -> None:
        """The profile's evidence prompts at temperature 0, twice each, and the API exchanges as curl."""
        from tui.stages.evidence.options import evidence_args

        profile, status = self.session.profile, self.server.status
        if profile is None or status.state not in ("ready", "attached") or not status.url:
            self.notify("No server is ready: launch one (l) or attach to one (a) first.", severity="warning")
            return
        python = stage_python(profile, self.session.env) if profile.stages.python else None
        args = evidence_args(profile.stages.evidence, status.url, model=profile.server.served_model_name,
                             api_key_env=profile.server.api_key_env, serving_python=python,
                             server_command=next(iter(profile.server.command), None))
        self.main.show_area("stages")
        self._run_stage("evidence", args, f"Inference evidence {status.url}", python=sys.executable)

    @work(group="report", exclusive=True)
    async def action_write_report(self) -> None:
        """report.md/report.json (Chinese) and report.en.md/report.en.json from this session's run folder."""
        from tui.report.build import ReportError, write_session_report

        run_dir = await asyncio.to_thread(self.session.ensure_run_dir)
        try:
            written = await asyncio.to_thread(write_session_report, run_dir)
        except (ReportError, OSError) as error:
            self.notify(str(error) if isinstance(error, ReportError) else f"The report could not be written in "
                        f"{run_dir}: {error.strerror or error}", severity="error", timeout=8)
            return
        self.notify(f"{written[0]} and {written[1].name} (English: {written[2].name}).", title="Report written")

    async def action_quit(self) -> None:
        """A running stage is stopped (its whole process group) before the console goes: nothing outlives us."""
        if self._stage is not None:
            self.notify("Stopping the running stage first…")
            await self._stage.cancel()
        await super().action_quit()  # the server's own question comes next

    def action_cancel_stage(self) -> None:
        if self._stage is None:
            self.notify("No stage is running.", severity="warning")
            return
        self._cancel_stage(self._stage)

    @work(group="stage-cancel")
    async def _cancel_stage(self, stage: StageRun) -> None:
        await stage.cancel()

    @work(group="stage-runs", exclusive=True)
    async def action_show_runs(self) -> None:
        run_dir = await asyncio.to_thread(self.session.ensure_run_dir)
        runs = await asyncio.to_thread(list_stage_runs, run_dir)
        if not runs:
            self.notify("No stage has run in this session yet.")
            return
        choices = [Choice(str(i), f"{run.name} · {run.state}" + (f" · {run.result['label']}" if run.result
                                                                   and run.result.get("label") else ""),
                          run.summary or (run.error or "")) for i, run in enumerate(runs)]
        picked = await self.push_screen_wait(ChoiceScreen(f"Stage runs in {run_dir}", choices))
        view = self._stages_view()
        if picked is not None and view is not None:
            run = runs[int(picked)]
            view.show_result(f"{run.name}: {run.state}", run.result, run.error, run.folder)
            self.main.show_area("stages")

    # ---- running -----------------------------------------------------------------------------

    @work(group="stage")
    async def _run_stage(self, name: str, args: list[str], title: str, python: str | None = None) -> None:
        outcome = await self._stage_now(name, args, title, python)
        if outcome.ok and name == "dequant" and len(args) >= 2:
            await self._offer_model_path(args[1], "the BF16 output", source="local")
        elif outcome.ok and name == "download" and outcome.result and outcome.result.get("path"):
            await self._offer_model_path(str(outcome.result["path"]), "the downloaded folder", source=None)

    async def _stage_now(self, name: str, args: list[str], title: str, python: str | None = None) -> StageOutcome:
        """Run one stage to its end (waiting for the device queue first) and show it; the outcome.

        `python` overrides the profile's stage Python: the benchmark needs only
        the console's own packages (aiohttp), not the serving environment's.
        """
        view = self._stages_view()
        profile = self.session.profile
        run_dir = await asyncio.to_thread(self.session.ensure_run_dir)
        if view is not None:
            view.clear_stage()
            if self._stage_queue.running is not None:
                view.show_stage(Text(f"{title}: waiting for {self._stage_queue.running} to finish",
                                     style="yellow"), None, None, False)
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
            self.post_message(StageEventArrived(name, event, line, tuple(ttft_history)))

        def on_stderr(text: str) -> None:
            self.post_message(StageEventArrived(name, text, None))

        async with self._stage_queue.slot(name):
            if python is None and profile is not None:
                python = stage_python(profile, self.session.env)
            env = dict(self.session.env)
            if profile is not None:  # the profile's variables too: caches, HF_HUB_OFFLINE in ModelScope-only setups
                env.update(profile.effective_env(profile.variant(self.session.variant)))
            stage = StageRun(name, args, run_dir=run_dir, python=python, env=env, on_event=on_event,
                             on_stderr=on_stderr)
            self._stage = stage
            if view is not None:
                view.show_stage(Text(f"{title}: starting…"), None, None, True)
            try:
                outcome = await stage.run()
            finally:
                self._stage = None
        self.post_message(StageFinished(outcome))
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
        if not await self.push_screen_wait(ConfirmScreen("Use this model folder", question, "Use it")):
            return
        model = replace(profile.model, path=path)
        if source == "local":
            model = replace(model, source="local")
        updated = replace(profile, model=model)
        try:
            await asyncio.to_thread(save_profile, updated, profile.path)
        except (OSError, ProfileError) as error:
            self.notify(f"Could not save {profile.path}: {error}", severity="error")
            return
        self.session.update_profile(updated)
        self._show_profile()
        self.notify(f"{profile.name} now serves {path}.")

    def _show_comparison(self, comparison: Mapping[str, Any], folder: Path | None) -> None:
        """Two benchmark results side by side in the Stages area (B against A, deltas in percent).

        Posted, not drawn directly: the last benchmark's own `StageFinished` is
        still in the queue, and the comparison must be drawn after it, not under it.
        """
        self.post_message(ComparisonReady(comparison, folder))

    def on_comparison_ready(self, message: ComparisonReady) -> None:
        view = self._stages_view()
        comparison = message.comparison
        if view is not None:
            view.show_result(f"Benchmark comparison: {comparison.get('a')} → {comparison.get('b')}", comparison,
                             None, message.folder)
        self.main.show_area("stages")

    # ---- messages --------------------------------------------------------------------------

    def on_stage_event_arrived(self, message: StageEventArrived) -> None:
        view = self._stages_view()
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
        view = self._stages_view()
        outcome = message.outcome
        if view is not None:
            style = "bold green" if outcome.ok else "bold red" if outcome.state == "failed" else "yellow"
            view.show_stage(Text(f"{outcome.name}: {outcome.state} in {outcome.seconds:.1f} s", style=style),
                            None, None, False)
            view.show_result(f"{outcome.name}: {outcome.state}", outcome.result, outcome.error, outcome.run_folder)
        if not outcome.ok and outcome.state != "cancelled":  # a cancel was the operator's own: the area says it
            self.notify(outcome.error or outcome.state, title=f"{outcome.name} {outcome.state}",
                        severity="error", timeout=10)

