"""The fixed prompt set at temperature 0, each prompt sent twice: outputs, tokens, latency, determinism.

At temperature 0 a healthy server answers the same prompt with the same text; two runs that differ point
at a numerically unstable kernel or batch-dependent results, which a report must state. Each run is
streamed through the console's API client, so TTFT is measured as the playground measures it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tui.api.client import ApiClient
from tui.api.curl import as_curl
from tui.api.request import ChatRequest, CompletionRequest, GenerationRequest, Sampling

RUNS_PER_PROMPT = 2


def build_request(mode: str, prompt: str, model: str | None, max_tokens: int) -> GenerationRequest:
    sampling = Sampling(max_tokens=max_tokens, temperature=0.0)
    if mode == "completion":
        return CompletionRequest(prompt, model=model, sampling=sampling)
    return ChatRequest.single(prompt, model=model, sampling=sampling)


def run_record(reply_json: dict[str, Any]) -> dict[str, Any]:
    """The figures of one run, beside the whole reply (per-chunk gaps left out: they are not evidence here)."""
    timings = dict(reply_json.get("timings") or {})
    timings.pop("gaps_ms", None)
    usage = reply_json.get("usage") or {}
    return {
        "output": reply_json.get("text", ""),
        "reasoning": reply_json.get("reasoning", ""),
        "finish_reason": reply_json.get("finish_reason"),
        "prompt_tokens": usage.get("prompt_tokens"),
        "completion_tokens": usage.get("completion_tokens"),
        "latency_ms": timings.get("e2e_ms"),
        "ttft_ms": timings.get("ttft_ms"),
        "error": reply_json.get("error"),
        "response": {**reply_json, "timings": timings},
    }


def agree(runs: Sequence[dict[str, Any]]) -> bool | None:
    """True when every run succeeded with the same text and reasoning; None when a run failed."""
    if len(runs) < 2 or any(run["error"] for run in runs):
        return None
    first = runs[0]
    return all(run["output"] == first["output"] and run["reasoning"] == first["reasoning"] for run in runs[1:])


async def run_prompts(client: ApiClient, mode: str, prompts: Sequence[str], model: str | None, max_tokens: int,
                      on_run: Callable[[int, int, dict[str, Any]], None]) -> list[dict[str, Any]]:
    """Each prompt RUNS_PER_PROMPT times, in order; `on_run(prompt index, run index, record)` after each."""
    results: list[dict[str, Any]] = []
    for index, prompt in enumerate(prompts):
        request = build_request(mode, prompt, model, max_tokens)
        http_request = client.prepare(request, stream=True)
        runs: list[dict[str, Any]] = []
        for attempt in range(RUNS_PER_PROMPT):
            reply = await client.stream(request).collect()
            record = run_record(reply.to_json())
            runs.append(record)
            on_run(index, attempt, record)
        results.append({
            "index": index,
            "prompt": prompt,
            "request": http_request.json_body(),
            "curl": as_curl(http_request),
            "runs": runs,
            "deterministic": agree(runs),
        })
    return results


def summarize(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Counts over the prompt set: agreeing, differing, failed; latency and TTFT means over successful runs."""
    runs = [run for result in results for run in result["runs"]]
    ok = [run for run in runs if not run["error"]]
    latencies = [run["latency_ms"] for run in ok if isinstance(run["latency_ms"], (int, float))]
    ttfts = [run["ttft_ms"] for run in ok if isinstance(run["ttft_ms"], (int, float))]
    return {
        "prompts": len(results),
        "runs": len(runs),
        "failed_runs": len(runs) - len(ok),
        "deterministic": sum(1 for result in results if result["deterministic"] is True),
        "nondeterministic": sum(1 for result in results if result["deterministic"] is False),
        "undetermined": sum(1 for result in results if result["deterministic"] is None),
        "mean_latency_ms": round(sum(latencies) / len(latencies), 3) if latencies else None,
        "mean_ttft_ms": round(sum(ttfts) / len(ttfts), 3) if ttfts else None,
        "completion_tokens": sum(run["completion_tokens"] or 0 for run in ok) if ok else None,
    }
