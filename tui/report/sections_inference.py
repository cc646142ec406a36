"""Section 3: each launch (command, what its log states, phases, key lines, root cause) and the evidence
stage's exchanges and prompt table."""

from __future__ import annotations

import json
import shlex
from typing import Any

from tui.report.collect import LaunchEvidence, StageEvidence
from tui.report.doc import Block, Context, as_dict, as_list, clip, code, not_run, number, paragraph, section, table

FACT_ROWS = ("vllm_version", "platform", "architecture", "dtype", "max_model_len", "tensor_parallel_size",
             "weights_gib", "kv_cache_gib", "kv_cache_tokens", "max_concurrency", "compilation",
             "graph_capture_sizes", "api_url", "ready")
EXCHANGES = ("models", "version", "chat", "completion")
RESPONSE_LIMIT = 3000
OUTPUT_CELL = 80
PROMPT_CELL = 50


def launch_blocks(ctx: Context, launch: LaunchEvidence) -> list[Block]:
    t = ctx.text
    label = launch.label
    blocks: list[Block] = [paragraph(f"**{t('launch_heading', label=label)}**")]
    if launch.script is not None:
        blocks.append(code(launch.script.strip(), "sh", ctx.cite(launch.script_path), t("launch_cmd", label=label)))
    elif launch.launch and isinstance(launch.launch.get("argv"), list):
        argv = " ".join(shlex.quote(str(word)) for word in launch.launch["argv"])
        blocks.append(code(argv, "sh", ctx.cite(launch.launch_path), t("launch_cmd", label=label)))
    facts = launch.facts or {}
    rows = [[key, facts[key]] for key in FACT_ROWS if facts.get(key) is not None]
    if rows:
        blocks.append(table([t("col_item"), t("col_value")], rows, ctx.cite(launch.facts_path),
                            t("facts_caption", label=label)))
    if launch.phases:
        phase_rows = [[phase.get("label"), phase.get("line"), phase.get("elapsed_s"), phase.get("duration_s")]
                      for phase in launch.phases]
        blocks.append(table([t("col_phase"), t("col_line"), t("col_start_s"), t("col_duration_s")], phase_rows,
                            ctx.cite(launch.log_path), t("phases_caption", label=label)))
    if launch.key_lines:
        text = "\n".join(f"{number}: {line}" for number, line in launch.key_lines)
        blocks.append(code(text, "text", ctx.cite(launch.log_path), t("keylines_caption", label=label)))
    cause = as_dict(facts.get("root_cause"))
    if cause:
        blocks.append(paragraph(t("root_cause", kind=cause.get("kind"), code=f" {cause['code']}" if cause.get("code")
                                  else "", line=cause.get("line"), hint=cause.get("hint")),
                                ctx.cite(launch.facts_path)))
    return blocks


def _response_text(response: Any) -> tuple[str, str]:
    if isinstance(response, (dict, list)):
        text = json.dumps(response, indent=2, ensure_ascii=False)
        lang = "json"
    else:
        text, lang = str(response if response is not None else ""), "text"
    if len(text) > RESPONSE_LIMIT:
        text = text[:RESPONSE_LIMIT] + "\n…"
    return text, lang


def evidence_blocks(ctx: Context, stage: StageEvidence) -> list[Block]:
    t = ctx.text
    result = stage.result or {}
    cited = ctx.cite(stage.result_path)
    launch = ctx.launch_during(stage)
    heading = t("evidence_heading", folder=ctx.cite(stage.folder)[0]) + (f" ({launch.label})" if launch else "")
    blocks: list[Block] = [paragraph(f"**{heading}**")]
    exchanges = as_dict(result.get("exchanges"))
    for name in EXCHANGES:
        exchange = as_dict(exchanges.get(name))
        if not exchange:
            continue
        blocks.append(code(str(exchange.get("curl", "")), "sh", (),
                           t("exchange_caption", name=name, status=exchange.get("status") or exchange.get("error"))))
        text, lang = _response_text(exchange.get("response"))
        blocks.append(code(text, lang, cited))
    prompts = as_list(result.get("prompts"))
    rows = []
    for item in prompts:
        runs = item.get("runs") or [{}]
        first = as_dict(runs[0])
        same = {True: t("yes"), False: t("no"), None: t("failed")}.get(item.get("deterministic"), t("unknown"))
        rows.append([int(item.get("index", 0)) + 1, clip(str(item.get("prompt", "")), PROMPT_CELL),
                     clip(str(first.get("output") or first.get("error") or ""), OUTPUT_CELL),
                     first.get("completion_tokens"), first.get("latency_ms"), first.get("ttft_ms"),
                     first.get("finish_reason") or "—", same])
    if rows:
        sources = ctx.cite(stage.result_path, stage.folder / "prompts.jsonl"
                           if (stage.folder / "prompts.jsonl").exists() else None)
        blocks.append(table(["#", t("col_prompt"), t("col_output"), t("col_tokens"), t("col_latency"), t("col_ttft"),
                             t("col_finish"), t("col_same")], rows, sources,
                            t("prompts_caption", mode=result.get("mode"), max_tokens=result.get("max_tokens"),
                              model=result.get("model"))))
        summary = as_dict(result.get("summary"))
        blocks.append(paragraph(t("prompts_summary", same=summary.get("deterministic"), prompts=summary.get("prompts"),
                                  differ=summary.get("nondeterministic"), failed=summary.get("failed_runs"),
                                  latency=number(summary.get("mean_latency_ms")),
                                  ttft=number(summary.get("mean_ttft_ms"))), cited))
    return blocks


def inference(ctx: Context) -> dict[str, Any]:
    t = ctx.text
    blocks: list[Block] = []
    for launch in ctx.launches():
        blocks += launch_blocks(ctx, launch)
    if not blocks:
        blocks.append(not_run(ctx, "what_launch", f"npu-console serve{ctx.profile_flag() or ' --profile P'}"))
    evidence = [stage for run in ctx.runs for stage in run.stages_named("evidence") if stage.result]
    for stage in evidence:
        blocks += evidence_blocks(ctx, stage)
    if not evidence:
        blocks.append(not_run(ctx, "what_evidence", f"npu-console evidence --url {ctx.url}{ctx.profile_flag()}"))
    for run in ctx.runs:
        if run.chat_lines:
            blocks.append(paragraph(t("chats", count=run.chat_lines), ctx.cite(run.path / "chat.jsonl")))
    return section(ctx, "inference", blocks)
