"""The benchmark: pick a mode, run it against the server, compare two results or two variants.

The benchmark itself is the stage `python -m tui.stages.bench` (run by
`StagesController.stage_now` under the console's own Python: it needs aiohttp,
not the serving environment's torch); this file decides what to ask and in what order. Comparing variants (eager
against graph) launches each in turn through the usual preflight, so the
operator sees and confirms every launch, benchmarks it, stops it, and shows the
two results side by side; the comparison is saved in the run directory.
"""

from __future__ import annotations

import asyncio
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tui.controllers.base import Controller
from tui.controllers.messages import AreaWanted, ComparisonReady
from tui.files.atomic import atomic_write_json
from tui.profile import Profile
from tui.screens.choice import Choice, ChoiceScreen
from tui.screens.confirm import ConfirmScreen
from tui.server.model_location import locate_model
from tui.stages.bench.compare import compare_results
from tui.stages.runner import StageOutcome, list_stage_runs
from tui.stages.stage_args import BENCH_MODES, BenchMode, bench_args

READY_TIMEOUT_S = 30 * 60.0  # a large model's start can take many minutes; the operator can stop it (s)


class BenchController(Controller):
    """Asks for a benchmark and runs it through the Stages area; launches variants through the Server area."""

    # ---- actions ---------------------------------------------------------------------------

    def run(self) -> None:
        self.worker(self._run, group="stage-pick", exclusive=True)

    async def _run(self) -> None:
        profile = self.picked_profile()
        if profile is None:
            return
        settings = profile.stages.bench
        server_problem = None if self._server_url() else "no server is ready: launch one (l) or attach (a)"
        serve = settings.serve
        pace = "all at once" if math.isinf(serve.request_rate) else f"{serve.request_rate:g} req/s"
        choices = [
            Choice("latency", "Latency",
                   f"{settings.latency.runs} sequential requests × {settings.latency.max_tokens} tokens",
                   problem=server_problem),
            Choice("concurrency", "Concurrency",
                   f"{settings.concurrency.requests} requests, {settings.concurrency.concurrency} in flight",
                   problem=server_problem),
            Choice("serve", "Serve (vllm bench serve)",
                   f"{serve.num_prompts} prompts · {serve.random_input_len} in / {serve.random_output_len} out · "
                   f"{pace}", problem=server_problem),
            Choice("variants", "Compare two variants",
                   "launch each in turn (preflight first), run the serve benchmark, stop, compare",
                   problem=None if len(profile.variants) >= 2 else "this profile has fewer than two variants"),
            Choice("results", "Compare two results", "two benchmark results of this session side by side"),
        ]
        picked = await self.app.push_screen_wait(ChoiceScreen("Run benchmark", choices))
        if picked is None:
            return
        if picked in BENCH_MODES:
            outcome = await self._bench(profile, picked, self.app.server_area.running_variant())
            if outcome is not None and not outcome.ok and outcome.result is None:
                self.app.notify(outcome.error or "the benchmark failed", severity="error", timeout=10)
        elif picked == "variants":
            await self._compare_variants(profile)
        else:
            await self._compare_saved_results()

    # ---- running -----------------------------------------------------------------------------

    def _server_url(self) -> str | None:
        """The URL of a server that can take requests now (ours when ready, or an attached one), else None."""
        return self.app.server.status.serving_url

    async def _bench(self, profile: Profile, mode: BenchMode, label: str | None) -> StageOutcome | None:
        url = self._server_url()
        if url is None:
            self.app.notify("No server is ready: launch one (l) or attach to one (a) first.", severity="warning")
            return None
        location = await asyncio.to_thread(locate_model, profile.model, self.session.env)
        args = await asyncio.to_thread(  # it looks for tokenizer files: off the UI's loop
            bench_args, profile.stages.bench, mode, url, model=profile.server.served_model_name,
            # the label is what runs, not what is selected
            label=label if self.app.server.status.state != "attached" else "attached",
            tokenizer=location.path, api_key_env=profile.server.api_key_env)
        self.app.post_message(AreaWanted("stages"))
        return await self.app.stages_area.stage_now("bench", args, f"Benchmark ({mode}) {url}", python=sys.executable)

    async def _launch_and_wait(self, profile: Profile, variant: str) -> str | None:
        """Launch `variant` through preflight and wait until it is ready; None, or why it is not."""
        self.app.profile_area.select_variant(variant)
        if self.app.server.status.ours_running:
            await self.app.server_area.stop_and_check()
        problem = await self.app.server_area.preflight_and_launch(profile, variant)
        if problem is not None:
            return problem
        status = await self.app.server.wait_settled(READY_TIMEOUT_S)  # an event: ready once the API answers
        if status.state == "ready":
            return None
        if status.state in ("failed", "stopped", "not started"):
            return status.detail or f"the server {status.state} before it was ready"
        return f"the server was not ready within {READY_TIMEOUT_S / 60:.0f} minutes"

    async def _compare_variants(self, profile: Profile) -> None:
        names = list(profile.variants)
        choices = [Choice(name, name, variant.description) for name, variant in profile.variants.items()]
        first = await self.app.push_screen_wait(ChoiceScreen("Compare variants: the first (A)", choices,
                                                         current=self.session.variant))
        if first is None:
            return
        second = await self.app.push_screen_wait(ChoiceScreen(
            f"Compare variants: {first} against (B)", [c for c in choices if c.key != first],
            current=next((n for n in names if n != first), None)))
        if second is None:
            return
        if self.app.server.status.ours_running and not await self.app.push_screen_wait(ConfirmScreen(
            "Compare two variants",
            f"The comparison launches {first}, then {second}, each on its own. The server running now "
            f"({self.app.server_area.running_label()}, pid {self.app.server.status.pid}) is stopped first. "
            "Stop it and compare?",
            "Stop it and compare",
        )):
            return
        results: dict[str, Mapping[str, Any]] = {}
        folder: Path | None = None
        for variant in (first, second):
            problem = await self._launch_and_wait(profile, variant)
            if problem is not None:
                self.app.notify(f"Variant {variant}: {problem}. The comparison stopped.", severity="error", timeout=10)
                return
            outcome = await self._bench(profile, "serve", variant)
            if outcome is None or outcome.result is None or not outcome.ok:
                error = outcome.error if outcome is not None else "no server"
                self.app.notify(f"The benchmark of {variant} failed: {error}. The comparison stopped.",
                                severity="error", timeout=10)
                return
            results[variant] = outcome.result
            folder = outcome.run_folder
        if self.app.server.status.ours_running:
            await self.app.server_area.stop_and_check()
        comparison = compare_results(results[first], results[second], first, second)
        saved = await self._save_comparison(comparison, f"compare-{first}-vs-{second}.json")
        self._show_comparison(comparison, saved or folder)

    async def _compare_saved_results(self) -> None:
        run_dir = await asyncio.to_thread(self.session.ensure_run_dir)
        runs = [run for run in await asyncio.to_thread(list_stage_runs, run_dir)
                if run.name == "bench" and run.result and run.result.get("mode")]
        if len(runs) < 2:
            self.app.notify("Comparing needs two benchmark results in this session; run the benchmark twice "
                            "(b), for example once per variant.", severity="warning", timeout=8)
            return

        def label(index: int) -> str:
            result = runs[index].result or {}
            return f"{result.get('mode')} · {result.get('label') or 'no label'} · {runs[index].folder.name}"

        choices = [Choice(str(i), label(i), runs[i].summary) for i in range(len(runs))]
        first = await self.app.push_screen_wait(ChoiceScreen("Compare results: the first (A)", choices))
        if first is None:
            return
        second = await self.app.push_screen_wait(ChoiceScreen("Compare results: against (B)",
                                                          [c for c in choices if c.key != first]))
        if second is None:
            return
        run_a, run_b = runs[int(first)], runs[int(second)]
        name_a = str((run_a.result or {}).get("label") or run_a.folder.name)
        name_b = str((run_b.result or {}).get("label") or run_b.folder.name)
        if name_a == name_b:  # two runs of one variant: the folders tell them apart
            name_a, name_b = f"{name_a} ({run_a.folder.name})", f"{name_b} ({run_b.folder.name})"
        comparison = compare_results(run_a.result or {}, run_b.result or {}, name_a, name_b)
        saved = await self._save_comparison(comparison, f"compare-{run_a.folder.name}-vs-{run_b.folder.name}.json")
        self._show_comparison(comparison, saved)

    async def _save_comparison(self, comparison: Mapping[str, Any], file_name: str) -> Path | None:
        """The comparison as JSON in the run directory (atomically); None, with a notice, when it cannot be."""
        run_dir = await asyncio.to_thread(self.session.ensure_run_dir)
        path = run_dir / file_name
        try:
            await asyncio.to_thread(atomic_write_json, path, dict(comparison))
        except OSError as error:
            self.app.notify(f"Could not save the comparison to {path}: {error.strerror or error}", severity="error")
            return None
        return path

    def _show_comparison(self, comparison: Mapping[str, Any], folder: Path | None) -> None:
        """Two benchmark results side by side in the Stages area (B against A, deltas in percent).

        Posted, not drawn directly: the last benchmark's own `StageFinished` is
        still in the queue, and the comparison must be drawn after it, not under it.
        """
        self.app.post_message(ComparisonReady(comparison, folder))
