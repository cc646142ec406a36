"""Sections 4, 5 and 6: precision against thresholds, performance (start-up, benchmarks, eager against
graph), and accuracy (GSM8K summary)."""

from __future__ import annotations

from typing import Any

from tui.report.collect import LaunchEvidence, RunEvidence, StageEvidence
from tui.report.doc import Block, Context, as_dict, as_list, clip, not_run, number, paragraph, section, table

PRECISION_ROWS = (  # (summary key, threshold key, at least?)
    ("top1_agreement_tie_aware", "top1_agreement_min", True),
    ("top1_agreement", None, True),
    ("top5_overlap", "top5_overlap_min", True),
    ("cosine_min", "cosine_min", True),
    ("cosine_mean", None, True),
    ("relative_error_mean", "relative_error_max", False),
    ("kl_mean", "kl_max", False),
    ("noise_floor_ratio", "noise_floor_ratio_max", False),
    ("max_abs_error", None, False),
    ("mean_abs_error", None, False),
    ("mse_mean", None, False),
)
BENCH_ROWS = {
    "serve": ("num_prompts", "input_len", "output_len", "request_rate", "max_concurrency", "completed", "failed",
              "duration", "request_throughput", "output_throughput", "total_token_throughput", "mean_ttft_ms",
              "median_ttft_ms", "p99_ttft_ms", "mean_tpot_ms", "median_tpot_ms", "p99_tpot_ms", "mean_itl_ms",
              "p99_itl_ms", "mean_e2el_ms", "p99_e2el_ms"),
    "latency": ("runs", "completed", "failed", "mean_latency_ms", "median_latency_ms", "min_latency_ms",
                "max_latency_ms", "std_latency_ms", "mean_ttft_ms", "mean_tpot_ms"),
    "concurrency": ("requests", "concurrency", "completed", "failed", "success_rate", "duration",
                    "request_throughput", "mean_latency_ms", "p50_latency_ms", "p90_latency_ms", "p99_latency_ms"),
}
PHASE_COLUMNS = ("weights_loading", "compile", "graph_capture")
FLIPS_SHOWN = 20


def _said(value: Any) -> str:
    """A value as the file states it, a dash when it states none."""
    return "—" if value is None or value == "" else str(value)


def _precision_blocks(ctx: Context, stage: StageEvidence) -> list[Block]:
    t = ctx.text
    result = stage.result or {}
    cited = ctx.cite(stage.result_path)
    summary, limits = as_dict(result.get("summary")), as_dict(result.get("thresholds"))
    reference, candidate = as_dict(result.get("reference")), as_dict(result.get("candidate"))
    blocks: list[Block] = [paragraph(t("verdict", verdict=_said(result.get("verdict")), mode=_said(result.get("mode")),
                                       reference=f"{_said(reference.get('device'))}/{_said(reference.get('dtype'))}",
                                       candidate=f"{_said(candidate.get('device'))}/{_said(candidate.get('dtype'))}"),
                                     cited)]
    rows = []
    for key, limit_key, at_least in PRECISION_ROWS:
        value = summary.get(key)
        if value is None:
            continue
        limit = limits.get(limit_key) if limit_key else None
        if isinstance(limit, (int, float)) and isinstance(value, (int, float)):
            passed = value >= limit if at_least else value <= limit
            rows.append([key, number(value, 4), f"{'≥' if at_least else '≤'} {limit:g}", "PASS" if passed else "FAIL"])
        else:
            rows.append([key, number(value, 4), "—", "—"])
    if rows:
        blocks.append(table([t("col_metric"), t("col_value"), t("col_threshold"), t("col_result")], rows, cited))
    reasons = as_list(result.get("reasons"))
    if reasons:
        blocks.append(paragraph(t("reasons", reasons="; ".join(map(str, reasons))), cited))
    prompt_rows = [[index, clip(str(item.get("prompt", "")), 40), item.get("tokens"),
                    number(item.get("top1_agreement_tie_aware", item.get("top1_agreement")), 4),
                    number(item.get("top5_overlap"), 4), number(item.get("cosine_min"), 5),
                    number(item.get("max_abs_error"), 4), number(item.get("relative_error_mean"), 5),
                    number(item.get("kl_mean"), 6), item.get("first_divergent_layer"), item.get("verdict")]
                   for index, item in enumerate(map(as_dict, as_list(result.get("prompts"))), start=1)]
    if prompt_rows:
        blocks.append(table(["#", t("col_prompt"), t("col_tokens"), t("col_top1"), t("col_top5"), t("col_cos"),
                             t("col_maxabs"), t("col_rel"), t("col_kl"), t("col_layer"), t("col_verdict")],
                            prompt_rows, cited, t("precision_prompts")))
    return blocks


def precision(ctx: Context) -> dict[str, Any]:
    stages = [stage for run in ctx.runs for stage in run.stages_named("precision") if stage.result]
    blocks: list[Block] = [block for stage in stages for block in _precision_blocks(ctx, stage)]
    if not blocks:
        blocks.append(not_run(ctx, "what_precision", "npu-console precision --model DIR --device npu "
                                                     f"--json precision.json{ctx.profile_flag()}"))
    return section(ctx, "precision", blocks)


def _phase(launch: LaunchEvidence, name: str, key: str) -> Any:
    for phase in launch.phases:
        if phase.get("phase") == name:
            return phase.get(key)
    return None


def _startup(ctx: Context) -> Block | None:
    t = ctx.text
    launched = [launch for launch in ctx.launches() if launch.phases or launch.facts]
    if not launched:
        return None
    rows = []
    for launch in launched:
        facts = launch.facts or {}
        rows.append([launch.label, _phase(launch, "ready", "elapsed_s"),
                     _phase(launch, "weights_loading", "duration_s"), facts.get("weights_gib"),
                     _phase(launch, "compile", "duration_s"), _phase(launch, "graph_capture", "duration_s"),
                     facts.get("kv_cache_tokens"), facts.get("compilation") or "—"])
    sources = ctx.cite(*[path for launch in launched for path in (launch.log_path, launch.facts_path)])
    return table([t("col_run"), t("col_ready_s"), t("col_weights_s"), t("col_weights_gib"), t("col_compile_s"),
                  t("col_graph_s"), t("col_kv_tokens"), t("col_compilation")], rows, sources, t("startup_caption"))


def _bench_tables(ctx: Context) -> list[Block]:
    from tui.stages.bench.compare import compare_results

    t = ctx.text
    blocks: list[Block] = []
    for mode, keys in BENCH_ROWS.items():
        found = [(ctx.stage_label(run, stage), stage) for run in ctx.runs for stage in run.stages_named("bench")
                 if stage.result and stage.result.get("mode") == mode]
        if not found:
            continue
        columns = [t("col_metric")] + [label for label, _stage in found]
        pair = None
        if len(found) == 2:
            a, b = found[0][1].result or {}, found[1][1].result or {}
            pair = {row["metric"]: row for row in compare_results(a, b, found[0][0], found[1][0])["rows"]}
            columns += [t("col_delta"), t("col_better")]
        rows = []
        for key in keys:
            values = [(stage.result or {}).get(key) for _label, stage in found]
            if all(value is None for value in values):
                continue
            row: list[Any] = [key] + [number(value) if not isinstance(value, str) else value for value in values]
            if pair is not None:
                compared = pair.get(key, {})
                better = {"a": found[0][0], "b": found[1][0]}.get(str(compared.get("better")), "—")
                row += [number(compared.get("delta_pct"), 1), better]
            rows.append(row)
        caption = t("bench_caption", mode=mode)
        if pair is not None:
            caption += " " + t("bench_compare", a=found[0][0], b=found[1][0])
        blocks.append(table(columns, rows, ctx.cite(*[stage.result_path for _label, stage in found]), caption))
    return blocks


def _comparisons(ctx: Context) -> list[Block]:
    t = ctx.text
    blocks: list[Block] = []
    for run in ctx.runs:
        for data, path in run.comparisons:
            names = {"a": str(data.get("a")), "b": str(data.get("b"))}
            rows = [[row.get("metric"), number(row.get("a")), number(row.get("b")), number(row.get("delta_pct"), 1),
                     names.get(str(row.get("better")), "—")] for row in map(as_dict, as_list(data.get("rows")))]
            blocks.append(table([t("col_metric"), str(data.get("a")), str(data.get("b")), t("col_delta"),
                                 t("col_better")], rows, ctx.cite(path),
                                t("comparison_caption", a=data.get("a"), b=data.get("b"))))
    return blocks


def performance(ctx: Context) -> dict[str, Any]:
    blocks: list[Block] = []
    startup = _startup(ctx)
    if startup is not None:
        blocks.append(startup)
    benches = _bench_tables(ctx) + _comparisons(ctx)
    blocks += benches
    if not benches:
        blocks.append(not_run(ctx, "what_bench", f"npu-console bench serve --url {ctx.url} --num-prompts 32 "
                                                 "--random-input-len 128 --random-output-len 128"))
    return section(ctx, "performance", blocks)


def accuracy(ctx: Context) -> dict[str, Any]:
    t = ctx.text
    found = [(run, stage) for run in ctx.runs for stage in run.stages_named("accuracy") if stage.result]
    if not found:
        return section(ctx, "accuracy", [not_run(ctx, "what_accuracy", f"npu-console accuracy --url {ctx.url} "
                                                 "--dataset gsm8k --limit 200 --shots 4")])
    rows, notes = [], []
    for run, stage in found:
        result = stage.result or {}
        label = ctx.stage_label(run, stage)
        rows.append([label, result.get("dataset"), result.get("shots"), result.get("grader"), result.get("mode"),
                     result.get("total"), result.get("correct"), result.get("accuracy"),
                     result.get("extraction_failures"), result.get("failed_requests"), result.get("duration_s")])
        settings = as_dict(result.get("settings"))
        if settings:
            notes.append(paragraph(t("accuracy_settings", label=label, settings=", ".join(
                f"{key}={value}" for key, value in settings.items())), ctx.cite(stage.result_path)))
    blocks: list[Block] = [table([t("col_run"), t("col_dataset"), t("col_shots"), t("col_grader"), t("col_mode"),
                                  t("col_total"), t("col_correct"), t("col_accuracy"), t("col_extract_fail"),
                                  t("col_failed_req"), t("col_duration")], rows,
                                 ctx.cite(*[stage.result_path for _run, stage in found]))]
    if len(found) >= 2:
        blocks += _accuracy_flips(ctx, found[0], found[-1])
    return section(ctx, "accuracy", blocks + notes)


def _accuracy_flips(ctx: Context, first: tuple[RunEvidence, StageEvidence], last: tuple[RunEvidence, StageEvidence]
                    ) -> list[Block]:
    """The first and the last accuracy run problem by problem (`accuracy compare`): which problems flipped."""
    from tui.stages.accuracy.compare import CompareError, compare_paths

    t = ctx.text
    (run_a, stage_a), (run_b, stage_b) = first, last
    try:
        comparison = compare_paths(stage_a.folder, stage_b.folder)
    except (CompareError, OSError, ValueError):
        return []
    label_a, label_b = ctx.stage_label(run_a, stage_a), ctx.stage_label(run_b, stage_b)
    if label_a == label_b:
        label_a, label_b = f"A ({label_a})", f"B ({label_b})"
    sources = ctx.cite(stage_a.folder / "items.jsonl", stage_b.folder / "items.jsonl")
    blocks: list[Block] = [paragraph(t("accuracy_flips", a=label_a, b=label_b, compared=comparison["compared"],
                                       both_right=comparison["both_right"], both_wrong=comparison["both_wrong"],
                                       fixed=len(comparison["fixed"]), broken=len(comparison["broken"]),
                                       failed=comparison["failed_in_either"]), sources)]
    flips = [[flip.get("id"), flip.get("now"), flip.get("reference"), flip.get("a"), flip.get("b"),
              clip(str(flip.get("question") or ""), 60)] for flip in as_list(comparison.get("flips"))[:FLIPS_SHOWN]]
    if flips:
        blocks.append(table(["id", t("col_now"), t("col_reference"), label_a, label_b, t("col_question")], flips,
                            sources))
    return blocks
