"""Sections 1 and 2: what was verified (model, profile, variants, host, what ran) and the environment."""

from __future__ import annotations

from typing import Any

from tui.report.collect import RunEvidence
from tui.report.doc import Block, Context, as_dict, not_run, number, paragraph, section, table

CHECKS = (("check_launch", None), ("check_evidence", "evidence"), ("check_precision", "precision"),
          ("check_bench", "bench"), ("check_accuracy", "accuracy"), ("check_dequant", "dequant"))
PACKAGE_ORDER = ("vllm", "vllm-ascend", "vllm-mindspore", "torch", "torch_npu", "transformers", "modelscope",
                 "safetensors")


def served_model(runs: list[RunEvidence]) -> tuple[str | None, list[Any]]:
    """The model's name as the evidence states it, and the file that states it."""
    for run in runs:
        for stage in run.stages_named("evidence"):
            if stage.result and stage.result.get("model"):
                return str(stage.result["model"]), [stage.result_path]
    for launch in (item for run in runs for item in run.launches):
        if launch.facts and launch.facts.get("model"):
            return str(launch.facts["model"]), [launch.facts_path]
    for run in runs:
        for stage in run.stages:
            if stage.result and isinstance(stage.result.get("model"), str):
                return str(stage.result["model"]), [stage.result_path]
    return None, []


def _first_fact(runs: list[RunEvidence], key: str) -> tuple[Any, Any]:
    for launch in (item for run in runs for item in run.launches):
        if launch.facts and launch.facts.get(key) is not None:
            return launch.facts[key], launch.facts_path
    return None, None


def introduction(ctx: Context) -> dict[str, Any]:
    t = ctx.text
    model, model_sources = served_model(ctx.runs)
    rows: list[list[Any]] = []
    sources: list[Any] = list(model_sources)
    rows.append([t("model"), model or t("unknown")])
    for key, label in (("architecture", "architecture"), ("vllm_version", "server_version"), ("platform", "platform")):
        value, path = _first_fact(ctx.runs, key)
        if value is not None:
            rows.append([t(label), value])
            sources.append(path)
    profiles = sorted({str(run.meta["profile"]) for run in ctx.runs
                       if run.meta.get("profile") not in (None, "", "cli")})
    if profiles:
        rows.append([t("profile"), ", ".join(profiles)])
    variants = [launch.label for launch in ctx.launches()]
    if variants:
        rows.append([t("variants"), ", ".join(variants)])
    hosts = sorted({str(run.meta["host"]) for run in ctx.runs if run.meta.get("host")})
    if hosts:
        rows.append([t("host"), ", ".join(hosts)])
    starts = sorted(str(run.meta["started"]) for run in ctx.runs if run.meta.get("started"))
    if starts:
        rows.append([t("started"), starts[0]])
    sources += [run.path / "run.json" for run in ctx.runs if run.meta]
    checks = []
    for key, stage_name in CHECKS:
        if stage_name is None:
            ran = [run for run in ctx.runs if run.launches]
            ok = [run for run in ran if any(launch.facts and launch.facts.get("ready") for launch in run.launches)]
        else:
            ran = [run for run in ctx.runs if run.stages_named(stage_name)]
            ok = [run for run in ran if any(s.state == "succeeded" for s in run.stages_named(stage_name))]
        status = t("done") if ok else (t("failed") if ran else t("not_run").rstrip("。."))
        checks.append([t(key), status])
    blocks: list[Block] = [
        table([t("col_item"), t("col_value")], rows, ctx.cite(*sources)),
        table([t("col_check"), t("col_status")], checks, caption=t("what_verified")),
    ]
    return section(ctx, "introduction", blocks)


def _source(field: Any) -> str:
    return str(field.get("source") or "—") if isinstance(field, dict) and field.get("value") is not None else "—"


def _field_text(ctx: Context, field: Any) -> str:
    if not isinstance(field, dict):
        return ctx.text("unknown")
    if field.get("value") is None:
        return ctx.text("env_unknown", reason=field.get("reason") or ctx.text("unknown"))
    return str(field["value"])


def _chips_text(ctx: Context, field: Any) -> str:
    if not isinstance(field, dict) or not isinstance(field.get("value"), list):
        return _field_text(ctx, field)
    groups: dict[tuple[str, str], int] = {}
    for chip in field["value"]:
        hbm = chip.get("hbm_total_mb") or chip.get("memory_total_mb")
        size = f"{number(hbm / 1024, 0)} GiB" if isinstance(hbm, (int, float)) and hbm else ctx.text("unknown")
        key = (str(chip.get("name") or ctx.text("unknown")), size)
        groups[key] = groups.get(key, 0) + 1
    return "; ".join(ctx.text("env_chips", count=count, name=name, hbm=size) for (name, size), count in groups.items())


def environment(ctx: Context) -> dict[str, Any]:
    t = ctx.text
    found = [(run.environment, run.environment_path) for run in ctx.runs if run.environment is not None]
    if not found:
        return section(ctx, "environment", [not_run(ctx, "what_environment",
                                                    f"npu-console evidence --url {ctx.url}{ctx.profile_flag()}")])
    data, path = found[0]
    assert data is not None
    python = data.get("python")
    rows: list[list[str]] = [[t("python"), _field_text(ctx, python), _source(python)]]
    packages = as_dict(data.get("packages"))
    for name in PACKAGE_ORDER:
        if name in packages:
            rows.append([name, _field_text(ctx, packages[name]), _source(packages[name])])
    for key in ("cann", "driver", "firmware"):
        rows.append([t(key), _field_text(ctx, data.get(key)), _source(data.get(key))])
    rows.append([t("chips"), _chips_text(ctx, data.get("chips")), _source(data.get("chips"))])
    os_field = as_dict(data.get("os"))
    rows.append([t("os"), _field_text(ctx, os_field), _source(os_field)])
    if os_field.get("kernel"):
        rows.append([t("kernel"), str(os_field["kernel"]), "uname"])
    cpu = as_dict(data.get("cpu"))
    cpu_text = _field_text(ctx, cpu)
    if cpu.get("logical_cpus"):
        cpu_text += f" ({cpu['logical_cpus']} × {cpu.get('arch') or '?'})"
    rows.append([t("cpu"), cpu_text, _source(cpu)])
    where = [table([t("col_component"), t("col_version"), t("col_read_from")], rows, ctx.cite(path))]
    where.append(paragraph(t("env_from", at=data.get("captured_at"), interpreter=data.get("interpreter"),
                             how=data.get("interpreter_chosen_as")), ctx.cite(path)))
    return section(ctx, "environment", where)
