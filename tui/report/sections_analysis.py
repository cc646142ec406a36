"""Sections 7 and 8: the adaptation as the evidence shows it (architecture, config, flags, conversions)
and the pitfalls met (diagnosed log errors, failed stages, warnings, nondeterminism, known traps)."""

from __future__ import annotations

from typing import Any

from tui.report.collect import LaunchEvidence
from tui.report.doc import Block, Context, as_dict, as_list, bullets, not_run, number, paragraph, section, table

FACT_ROWS = (("architecture", "architecture"), ("dtype", "dtype"), ("max_model_len", "max_model_len"),
             ("tensor_parallel_size", "tensor_parallel"), ("compilation", "compilation"),
             ("graph_capture_sizes", "graph_sizes"), ("platform", "platform"))
WARNINGS_PER_STAGE = 3


def _argv(launch: LaunchEvidence) -> list[str]:
    return [str(word) for word in as_list((launch.launch or {}).get("argv"))]


def _flag_value(argv: list[str], flag: str) -> str | None:
    for index, word in enumerate(argv):
        if word == flag and index + 1 < len(argv):
            return argv[index + 1]
        if word.startswith(flag + "="):
            return word.split("=", 1)[1]
    return None


def adaptation(ctx: Context) -> dict[str, Any]:
    t = ctx.text
    launched = ctx.launches()
    rows: list[list[Any]] = []
    sources: list[Any] = []
    for key, label in FACT_ROWS:
        values = {launch.label: (launch.facts or {}).get(key) for launch in launched}
        present = {name: value for name, value in values.items() if value is not None}
        if present:
            shown = ", ".join(f"{name}: {value}" for name, value in present.items()) if len(set(
                map(str, present.values()))) > 1 else str(next(iter(present.values())))
            rows.append([t(label), shown])
    sources += [launch.facts_path for launch in launched]
    quantization = {launch.label: _flag_value(_argv(launch), "--quantization") for launch in launched}
    if launched:
        rows.append([t("quantization"), ", ".join(sorted({value or t("none") for value in quantization.values()}))])
    flag_sets = {launch.label: {word for word in _argv(launch) if word.startswith("--")} for launch in launched}
    if len(flag_sets) > 1:
        common = set.intersection(*flag_sets.values())
        differ = [f"{name}: {' '.join(sorted(flags - common)) or t('none')}" for name, flags in flag_sets.items()]
        rows.append([t("flags_differ"), "; ".join(differ)])
    for launch in launched:
        overrides = as_dict((launch.launch or {}).get("env_overrides"))
        if overrides:
            rows.append([t("env_overrides", label=launch.label), ", ".join(f"{k}={v}" for k, v in overrides.items())])
            sources.append(launch.launch_path)
    for run in ctx.runs:
        for stage in run.stages_named("dequant"):
            result = stage.result or {}
            if stage.state == "succeeded" and not result.get("dry_run"):
                written = result.get("bytes_written")
                rows.append([t("dequant_row"), t("dequant_value", converted=result.get("tensors_converted"),
                                                 copied=result.get("tensors_copied"),
                                                 mb=number(written / 1e6 if isinstance(written, (int, float))
                                                           else None, 1), seconds=result.get("seconds"),
                                                 output=result.get("output"))])
                sources.append(stage.result_path)
    if not rows:
        return section(ctx, "adaptation", [not_run(ctx, "what_adaptation",
                                                   f"npu-console serve{ctx.profile_flag() or ' --profile P'}")])
    blocks: list[Block] = [table([t("col_item"), t("col_value")], rows, ctx.cite(*sources)),
                           paragraph(t("adaptation_manual"))]
    return section(ctx, "adaptation", blocks)


def _launch_notes(ctx: Context, launch: LaunchEvidence, notes: list[str], sources: list[Any]) -> None:
    t = ctx.text
    for error in as_list((launch.facts or {}).get("errors")):
        error = as_dict(error)
        notes.append(t("note_error", file=ctx.cite(launch.facts_path)[0] if launch.facts_path else "?",
                       line=error.get("line"), kind=error.get("kind"),
                       code=f" {error['code']}" if error.get("code") else "", hint=error.get("hint")))
        sources.append(launch.facts_path)
    model = next((word for word in _argv(launch) if "___" in word), None)
    if model:
        notes.append(t("note_modelscope", path=model))
        sources.append(launch.launch_path)


def notes(ctx: Context) -> dict[str, Any]:
    t = ctx.text
    found: list[str] = []
    sources: list[Any] = []
    spawn: dict[str, list[str]] = {}
    for launch in ctx.launches():
        _launch_notes(ctx, launch, found, sources)
        method = as_dict((launch.launch or {}).get("env_overrides")).get("VLLM_WORKER_MULTIPROC_METHOD")
        if method:
            spawn.setdefault(str(method), []).append(launch.label)
            sources.append(launch.launch_path)
    for method, labels in spawn.items():
        found.append(t("note_spawn", value=method, label=", ".join(labels)))
    for run in ctx.runs:
        for stage in run.stages:
            folder = ctx.cite(stage.folder)[0]
            if stage.state not in ("succeeded", "running"):
                found.append(t("note_stage_failed", name=stage.name, folder=folder, state=stage.state,
                               error=stage.error or t("unknown")))
                sources.append(stage.folder / "stage.json")
            for message in dict.fromkeys(stage.warnings[:WARNINGS_PER_STAGE]):
                found.append(t("note_stage_warning", name=stage.name, folder=folder, message=message))
                sources.append(stage.folder / "events.jsonl")
            result = stage.result or {}
            if stage.name == "evidence":
                for item in map(as_dict, as_list(result.get("prompts"))):
                    if item.get("deterministic") is False:
                        found.append(t("note_nondeterministic", index=int(item.get("index", 0)) + 1, folder=folder))
                        sources.append(stage.result_path)
            if stage.name == "bench" and result.get("client_bound"):
                found.append(t("note_client_bound", folder=folder))
                sources.append(stage.result_path)
            if stage.name == "dequant" and stage.state == "succeeded" and not result.get("dry_run"):
                found.append(t("note_dequant", folder=folder))
                sources.append(stage.result_path)
    if not found:
        return section(ctx, "notes", [paragraph(t("notes_none"))])
    return section(ctx, "notes", [bullets(found, ctx.cite(*sources))])
