"""The Stages area: the long jobs of a bring-up and their settings in this profile."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Log, ProgressBar, Static

from tui.profile import Profile
from widgets.area import AreaView
from widgets.bench_view import bench_live, bench_result, comparison_table, is_bench_result, is_comparison
from widgets.evidence_view import evidence_result, is_evidence_result
from widgets.precision_view import is_precision_result, precision_result

# 76 characters: one line in the Stages area at 80 columns (its text is 76 wide there) and at 200×50 (86).
STAGE_KEYS_HINT = "e evidence·b bench·P precision·g accuracy·d dequant·W report·x cancel·w runs"


def stages_table(profile: Profile) -> Table:
    """One row per stage with the settings the profile gives it."""
    stages = profile.stages
    table = Table(box=None, padding=(0, 1), show_edge=False, expand=True)
    table.add_column("Stage", style="bold", no_wrap=True)
    table.add_column("Settings", overflow="fold")
    dequant = stages.dequant
    if dequant.source or dequant.destination:
        block = f" · block {dequant.block_size}" if dequant.block_size else " · block from config.json"
        table.add_row("Dequant", f"{dequant.source or '?'} → {dequant.destination or '?'}{block}")
    elif profile.runtime == "simulated":
        table.add_row("Dequant", Text("the demo's tiny FP8 checkpoint, built on the first d", style="dim"))
    else:
        table.add_row("Dequant", Text("no FP8 source in this profile", style="dim"))
    bench = stages.bench
    rate = "inf" if math.isinf(bench.serve.request_rate) else f"{bench.serve.request_rate:g}/s"
    table.add_row("Latency", f"{bench.latency.runs} sequential × {bench.latency.max_tokens} tokens")
    table.add_row(
        "Concurrency",
        f"{bench.concurrency.requests} requests, {bench.concurrency.concurrency} in flight, "
        f"{bench.concurrency.max_tokens} tokens",
    )
    table.add_row(
        "Serve",
        f"{bench.serve.num_prompts} prompts · {bench.serve.random_input_len} in / "
        f"{bench.serve.random_output_len} out · rate {rate} · {bench.serve.endpoint}",
    )
    precision = stages.precision
    limits = precision.thresholds
    gates = [f"top-1 ≥ {limits.top1_agreement_min:g}", f"cosine ≥ {limits.cosine_min:g}"]
    if limits.relative_error_max is not None:
        gates.append(f"rel. error < {limits.relative_error_max:g}")
    gates.append(f"noise floor × {limits.noise_floor_ratio_max:g}")
    table.add_row(
        "Precision",
        f"cpu fp32 vs {precision.device} {precision.dtype} · {len(precision.prompts)} prompts · "
        + ", ".join(gates),
    )
    accuracy = stages.accuracy
    table.add_row("Accuracy", f"{accuracy.dataset} first {accuracy.limit} · {accuracy.shots}-shot {accuracy.mode} · "
                              f"grader {accuracy.grader} · {accuracy.max_tokens} tokens")
    evidence = stages.evidence
    if evidence.prompts:
        table.add_row("Evidence", f"{len(evidence.prompts)} {evidence.mode} prompts")
    table.add_row("Python", stages.python or Text("the console's own", style="dim"))
    return table


def result_view(result: Mapping[str, Any], layers_of: int | None = None) -> Any:
    """The right drawing for a stage's result: a benchmark, a comparison, a precision check, or key/value rows.

    `layers_of` picks the precision prompt whose layers are drawn (default: the one that tells most).
    """
    if is_bench_result(result):
        return bench_result(result)
    if is_comparison(result):
        return comparison_table(result)
    if is_precision_result(result):
        return precision_result(result, layers_of)
    if is_evidence_result(result):
        return evidence_result(result)
    return result_table(result)


def result_table(result: Mapping[str, Any]) -> Table:
    """A stage's result as key/value rows (numbers rounded, nested values as JSON)."""
    table = Table.grid(padding=(0, 1))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in result.items():
        if isinstance(value, float):
            shown = f"{value:,.3f}".rstrip("0").rstrip(".")
        elif isinstance(value, (dict, list)):
            shown = json.dumps(value, ensure_ascii=False)[:300]
        else:
            shown = str(value)
        table.add_row(key.replace("_", " "), shown)
    return table


class StagesView(AreaView):
    """Draws the stage settings, the running stage (progress, log, result) and where evidence goes."""

    DEFAULT_CSS = """
    StagesView > Static { height: auto; }
    StagesView #run-dir { color: $text-muted; margin-top: 1; }
    StagesView #stage-status { margin-top: 1; height: auto; }
    StagesView #stage-live { height: auto; display: none; }
    StagesView #stage-live.-shown { display: block; }
    StagesView ProgressBar { display: none; }
    StagesView ProgressBar.-running { display: block; }
    StagesView #stage-log { height: auto; max-height: 8; display: none; border: none; }
    StagesView #stage-log.-shown { display: block; }
    StagesView #stage-result { height: auto; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left_square_bracket", "layers_of(-1)", "Prev layers"),
        Binding("right_square_bracket", "layers_of(1)", "Next layers"),
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shown: tuple[str, Mapping[str, Any] | None, str | None, Path | None] | None = None
        self._layers_of: int | None = None

    def compose(self) -> ComposeResult:
        yield Static("No profile chosen.", id="stages")
        yield Static(Text(STAGE_KEYS_HINT, style="dim"), id="stage-status")
        yield ProgressBar(id="stage-progress", show_eta=False)
        yield Static("", id="stage-live")
        yield Log(id="stage-log", max_lines=500)
        yield Static("", id="stage-result")
        yield Static("", id="run-dir")

    def show_stage(self, line: Text, done: int | None, total: int | None, running: bool) -> None:
        """The status line (state, counts, rate, ETA) and the progress bar."""
        self.query_one("#stage-status", Static).update(line)
        bar = self.query_one(ProgressBar)
        bar.set_class(running, "-running")
        if total:
            bar.update(total=total, progress=done or 0)

    def show_live(self, extra: Mapping[str, Any], done: float, total: float | None,
                  ttft_p50_history: list[float | None]) -> None:
        """The benchmark's running figures: rates, TTFT percentiles with their trend, the client's CPU."""
        live = self.query_one("#stage-live", Static)
        live.add_class("-shown")
        live.update(bench_live(extra, done, total, ttft_p50_history))

    def stage_log(self, lines: list[str]) -> None:
        log = self.query_one("#stage-log", Log)
        log.add_class("-shown")
        log.write_lines(lines)

    def clear_stage(self) -> None:
        self._shown = None
        self.refresh_bindings()
        self.query_one("#stage-log", Log).clear()
        live = self.query_one("#stage-live", Static)
        live.remove_class("-shown")
        live.update("")
        self.query_one("#stage-result", Static).update("")

    def show_result(self, title: str, result: Mapping[str, Any] | None, error: str | None, folder: Path | None
                    ) -> None:
        self._shown = (title, result, error, folder)
        self._layers_of = None
        self.refresh_bindings()
        self._draw_result()
        shown = self.query_one("#stage-result", Static)
        self.call_after_refresh(shown.scroll_visible, top=True, animate=False)

    def _prompts_with_layers(self) -> int:
        result = self._shown[1] if self._shown is not None else None
        if not result or not is_precision_result(result):
            return 0
        return sum(1 for prompt in result.get("prompts") or [] if isinstance(prompt, Mapping) and prompt.get("layers"))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`[` and `]` only while a precision result with more than one prompt's layers is shown."""
        if action == "layers_of":
            return self._prompts_with_layers() > 1
        return True

    def action_layers_of(self, step: int) -> None:
        """Draw the layers of the previous or next prompt of the shown precision result."""
        result = self._shown[1] if self._shown is not None else None
        if not result:
            return
        prompts = result.get("prompts") or []
        count = len(prompts)
        if count == 0:
            return
        start = self._layers_of if self._layers_of is not None else -1 if step > 0 else 0
        index = start
        for _ in range(count):  # skip prompts without layers
            index = (index + step) % count
            if isinstance(prompts[index], Mapping) and prompts[index].get("layers"):
                break
        self._layers_of = index
        self._draw_result()

    def _draw_result(self) -> None:
        if self._shown is None:
            return
        title, result, error, folder = self._shown
        parts: list[Any] = [Text(title, style="bold")]
        if error:
            parts.append(Text(error, style="bold red"))
        if result:
            parts.append(result_view(result, self._layers_of))
        if folder is not None:
            parts.append(Text(f"Files: {folder}", style="dim"))
        self.query_one("#stage-result", Static).update(Group(*parts))

    def show_profile(self, profile: Profile) -> None:
        self.query_one("#stages", Static).update(stages_table(profile))

    def show_run_dir(self, path: Path | None, error: str | None = None) -> None:
        label = self.query_one("#run-dir", Static)
        if error:
            label.update(Text(error, style="bold red"))
        elif path is not None:
            label.update(Text(f"Evidence of this session: {path}", overflow="fold"))
