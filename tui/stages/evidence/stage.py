"""The evidence stage end to end: the served model, the API exchanges, the prompt set twice, the environment.

Writes into the stage's run folder (`NPU_CONSOLE_STAGE_DIR`): `prompts.jsonl` (one line per request, as it
happens), `environment.json`, and the result (which the runner saves as `result.json`).
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tui.api.client import ApiClient, Timeouts
from tui.api.errors import ApiError
from tui.files.atomic import append_json_line, atomic_write_json
from tui.stages.entry import StageRunError
from tui.stages.events import emit_log, emit_progress, stage_folder
from tui.stages.evidence.exchanges import api_exchanges
from tui.stages.evidence.options import DEFAULT_MAX_TOKENS, default_prompts
from tui.stages.evidence.prompts import RUNS_PER_PROMPT, run_prompts, summarize

PROMPTS_FILE = "prompts.jsonl"


class EvidenceError(StageRunError):
    """The evidence could not be gathered (no server, or every request failed); exit 1, or 2 for bad input."""


async def _served_model(client: ApiClient) -> str:
    try:
        models = await client.list_models()
    except ApiError as exc:
        raise EvidenceError(str(exc)) from exc
    if not models:
        raise EvidenceError(f"{client.root}/v1/models lists no model; pass --model NAME")
    return models[0].id


async def _environment(args: argparse.Namespace, folder: Path | None) -> dict[str, Any] | None:
    if args.no_environment:
        return None
    from tui.evidence.environment import ENVIRONMENT_FILE, capture_environment

    emit_log("recording the environment (packages, CANN, driver, firmware, chips, OS, CPU)")
    data = await capture_environment(command=(args.server_command,) if args.server_command else ("vllm",),
                                     env=dict(os.environ), stage_python=args.serving_python,
                                     ascend_root=args.ascend_root)
    if folder is not None:
        atomic_write_json(folder / ENVIRONMENT_FILE, data)
    return data


async def run_evidence(args: argparse.Namespace) -> dict[str, Any]:
    """Gather the evidence for the parsed options and return the result (raises `EvidenceError`)."""
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    t0 = time.monotonic()
    mode = args.mode or "chat"
    prompts = tuple(args.prompt) if args.prompt else default_prompts(mode)
    max_tokens = args.max_tokens or DEFAULT_MAX_TOKENS
    folder_name = stage_folder()
    folder = Path(folder_name) if folder_name else None
    timeouts = Timeouts(first_byte_s=min(args.timeout, 600.0), total_s=args.timeout)
    async with ApiClient(args.url, api_key_env=args.api_key_env, timeouts=timeouts) as client:
        model = args.model or await _served_model(client)
        emit_log(f"model {model}; {len(prompts)} prompt(s) × {RUNS_PER_PROMPT} at temperature 0, {mode}")
        total = len(prompts) * RUNS_PER_PROMPT + 4
        emit_progress(0, total, "request", "API exchanges")
        chat_prompt = prompts[0] if mode == "chat" else default_prompts("chat")[0]
        completion_prompt = prompts[0] if mode == "completion" else default_prompts("completion")[0]
        exchanges = await api_exchanges(client, model, chat_prompt, completion_prompt, max_tokens, args.timeout)
        emit_progress(4, total, "request", "API exchanges done")
        for name, exchange in exchanges.items():
            if exchange["error"]:
                emit_log(f"{name}: {exchange['error']}", "warning")

        def on_run(index: int, attempt: int, record: dict[str, Any]) -> None:
            done = 4 + index * RUNS_PER_PROMPT + attempt + 1
            if folder is not None:
                line = {"prompt_index": index, "run": attempt, "prompt": prompts[index], **record}
                append_json_line(folder / PROMPTS_FILE, line)
            if record["error"]:
                emit_log(f"prompt {index + 1} run {attempt + 1}: {record['error']}", "warning")
            emit_progress(done, total, "request", f"prompt {index + 1}/{len(prompts)} run {attempt + 1}")

        results = await run_prompts(client, mode, prompts, model, max_tokens, on_run)
    environment = await _environment(args, folder)
    summary = summarize(results)
    version = exchanges["version"]["response"]
    result: dict[str, Any] = {
        "url": client.root,
        "model": model,
        "mode": mode,
        "temperature": 0.0,
        "max_tokens": max_tokens,
        "runs_per_prompt": RUNS_PER_PROMPT,
        "started_at": started_at,
        "duration_s": round(time.monotonic() - t0, 3),
        "server_version": version.get("version") if isinstance(version, dict) else None,
        "summary": summary,
        "prompts": results,
        "exchanges": exchanges,
        "prompts_file": str(folder / PROMPTS_FILE) if folder is not None else None,
        "environment": environment,
    }
    for item in results:
        if item["deterministic"] is False:
            emit_log(f"prompt {item['index'] + 1} answered differently on its two runs at temperature 0", "warning")
    if summary["runs"] and summary["failed_runs"] == summary["runs"]:
        first = results[0]["runs"][0]["error"]
        raise EvidenceError(f"every request failed: {first}", 1, result)
    return result
