"""`npu-console bench serve` beside `vllm bench serve` (from the engine's own venv) on the same real vLLM.

Same server, same test, same settings: the random dataset (I prompt tokens, O output tokens forced
with ignore_eos), N prompts, one request in flight, and the same warm-up (W requests before each
run, vLLM's `--num-warmups`, our `--warmup`). The clients take turns, ours first, PAIRS times, so a
slow moment of the shared machine falls on both; each side's per-request figures are pooled over
its runs. What must agree:

- completed requests and generated tokens exactly (N and N × O on both sides); our prompt tokens are
  the server's own count (usage) and exact, N × I; vLLM's random prompts are not all exact on the
  tiny tokenizer (its count says so: +8 of 2048 here), so its count is held to 1 %;
- the median TTFT and the median TPOT of the replies that streamed, within `RATIO` of vLLM's either
  way, or within an absolute slack (`TTFT_SLACK_MS`, `TPOT_SLACK_MS`).

Why only the replies that streamed: when the server's API process gets no CPU while its engine
generates, vLLM merges the queued tokens into one SSE event or writes them all at once (strace of
the API process: a whole 64-token reply in one write, 560 ms after the request reached the engine),
so that reply's TTFT is its E2EL and its TPOT 0, for whichever client runs at that moment. Both
clients see it (in the measurements below, vLLM's client as often as ours); it says nothing about a
client, and it flips a run's medians between two regimes (over every reply, TTFT ratios of 0.25-4.3
and TPOT medians of 0 against 2 ms were seen). Our result flags it (`burst_replies`, a note). A
reply counts as a burst when its last 63 tokens came within `BURST_MS`, the same rule on both sides.

The tolerance, settled by measurement on this 2-core machine while the rest of the team's tests ran
(load average 11-14): 10 samples of two turns each gave streamed-median ratios ours/vLLM of
0.35-1.79 for TTFT (medians 15-58 ms) and 0.50-2.37 for TPOT (medians 1.8-7.3 ms), hence 4× and
the slacks; issue 12 saw TPOT ratios of 0.8-1.1 on a quiet machine. It catches a client that adds
its own delay (the cold run in issue 12 was 6.5×), not a few percent. The first runs after the
server starts are colder (`cold_start`): hence the warm-up on both sides.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

from tests.real_vllm import engine

REPO = Path(__file__).resolve().parents[2]
PROMPTS, INPUT_LEN, OUTPUT_LEN, WARMUP = 16, 128, 64, 4
PAIRS, MAX_PAIRS, MIN_STREAMED = 2, 4, 8
"""Two turns each, up to four while fewer than 8 replies on a side streamed (a starved server bursts them)."""
RATIO = 4.0
"""Medians of the streamed replies within 4× of vLLM's either way (measured 0.35-2.37; see the module doc)."""
BURST_MS = 1.0
"""A reply of 64 tokens whose last 63 came within 1 ms came in one burst (streamed, they take 60-200 ms here)."""
TTFT_SLACK_MS = 20.0
TPOT_SLACK_MS = 1.0
"""Or within these of each other (TTFT medians of 19-50 ms, TPOT of 1.8-3.7 ms measured here)."""


def ours(server: engine.Engine, out: Path, runs_dir: Path) -> dict[str, Any]:
    argv = [sys.executable, "-m", "tui", "bench", "serve", "--url", server.url, "--model", "tiny",
            "--tokenizer", str(server.model_dir), "--num-prompts", str(PROMPTS), "--random-input-len",
            str(INPUT_LEN), "--random-output-len", str(OUTPUT_LEN), "--max-concurrency", "1", "--ignore-eos",
            "--warmup", str(WARMUP), "--result-json", str(out), "--runs-dir", str(runs_dir)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(out.read_text())
    requests = [json.loads(line) for line in Path(result["requests_file"]).read_text().splitlines()]
    measured = [request for request in requests if not request["warmup"] and request["success"]]
    result["ttfts_ms"] = [request["ttft"] * 1000 for request in measured]
    result["e2els_ms"] = [request["latency"] * 1000 for request in measured]
    result["tpots_ms"] = [(request["latency"] - request["ttft"]) / (request["output_tokens"] - 1) * 1000
                          for request in measured]
    return result


def theirs(server: engine.Engine, out: Path) -> dict[str, Any]:
    argv = [str(engine.require_engine() / "vllm"), "bench", "serve", "--backend", "vllm", "--base-url", server.url,
            "--model", "tiny", "--tokenizer", str(server.model_dir), "--dataset-name", "random",
            "--random-input-len", str(INPUT_LEN), "--random-output-len", str(OUTPUT_LEN), "--num-prompts",
            str(PROMPTS), "--max-concurrency", "1", "--ignore-eos", "--num-warmups", str(WARMUP), "--disable-tqdm",
            "--percentile-metrics", "ttft,tpot,itl,e2el", "--save-result", "--save-detailed",
            "--result-dir", str(out.parent), "--result-filename", out.name]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, env=engine.engine_env())
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    result: dict[str, Any] = json.loads(out.read_text())
    ok = [index for index, error in enumerate(result["errors"]) if not error]
    result["ttfts_ms"] = [result["ttfts"][index] * 1000 for index in ok]
    result["e2els_ms"] = [(result["ttfts"][index] + sum(result["itls"][index])) * 1000 for index in ok]
    result["tpots_ms"] = [sum(result["itls"][index]) / (result["output_lens"][index] - 1) * 1000 for index in ok]
    return result


def streamed(runs: list[dict[str, Any]], metric: str) -> list[float]:
    """`metric` of the replies that streamed: their tokens after the first took over BURST_MS in all."""
    return [value for run in runs for value, ttft, e2el in zip(run[metric], run["ttfts_ms"], run["e2els_ms"],
                                                               strict=True) if e2el - ttft > BURST_MS]


def agrees(mine: float, vllm: float, slack: float) -> bool:
    within_ratio = vllm > 0 and mine > 0 and 1 / RATIO <= mine / vllm <= RATIO
    return within_ratio or abs(mine - vllm) <= slack


def test_bench_serve_agrees_with_vllm_bench_serve(vllm_server: engine.Engine, tmp_path: Path) -> None:
    our_runs: list[dict[str, Any]] = []
    their_runs: list[dict[str, Any]] = []
    while len(our_runs) < MAX_PAIRS and (len(our_runs) < PAIRS or min(
            len(streamed(our_runs, "ttfts_ms")), len(streamed(their_runs, "ttfts_ms"))) < MIN_STREAMED):
        turn = len(our_runs)
        our_runs.append(ours(vllm_server, tmp_path / f"ours-{turn}.json", tmp_path / "runs"))
        their_runs.append(theirs(vllm_server, tmp_path / f"vllm-{turn}.json"))
    for mine, vllm in zip(our_runs, their_runs, strict=True):
        assert mine["completed"] == vllm["completed"] == PROMPTS
        assert mine["total_output_tokens"] == vllm["total_output_tokens"] == PROMPTS * OUTPUT_LEN
        assert mine["total_input_tokens"] == PROMPTS * INPUT_LEN
        assert abs(vllm["total_input_tokens"] - PROMPTS * INPUT_LEN) <= 0.01 * PROMPTS * INPUT_LEN
        assert mine["output_len_forced"] is True and mine["warmup_requests"] == 1 + WARMUP  # the ignore_eos probe too
        assert mine["cold_start"] is False  # warmed up, and the result knows it
        ours_bursts = len(mine["ttfts_ms"]) - len(streamed([mine], "ttfts_ms"))
        # the result's count (first and last chunk in the same read) is within the test's (under BURST_MS)
        assert mine["burst_replies"] <= ours_bursts
    for metric, slack in (("ttfts_ms", TTFT_SLACK_MS), ("tpots_ms", TPOT_SLACK_MS)):
        mine_values, vllm_values = streamed(our_runs, metric), streamed(their_runs, metric)
        if min(len(mine_values), len(vllm_values)) < MIN_STREAMED:
            # A starved server sends whole replies in one write: their TTFT is the E2EL and their TPOT 0 for
            # whichever client meets them, so no timing can tell the clients apart. The counts above still held.
            warnings.warn(f"only {len(mine_values)} (ours) and {len(vllm_values)} (vLLM's) of "
                          f"{len(our_runs) * PROMPTS} replies streamed; the machine is too starved to compare "
                          f"{metric[:4].upper()}", stacklevel=1)
            continue
        median_ours, median_vllm = statistics.median(mine_values), statistics.median(vllm_values)
        everything = [statistics.median(value for run in runs for value in run[metric])
                      for runs in (our_runs, their_runs)]
        print(f"median {metric[:4].upper()} of streamed replies: ours {median_ours:.2f} ms ({len(mine_values)}), "
              f"vllm bench serve {median_vllm:.2f} ms ({len(vllm_values)}), ratio {median_ours / median_vllm:.2f}; "
              "over every reply: "
              f"ours {everything[0]:.2f}, vllm {everything[1]:.2f}; {len(our_runs)} pairs")
        assert agrees(median_ours, median_vllm, slack), (
            f"median {metric[:4].upper()} of streamed replies: ours {median_ours:.2f} ms against vllm bench serve's "
            f"{median_vllm:.2f} ms, beyond {RATIO:g}× and {slack:g} ms")
