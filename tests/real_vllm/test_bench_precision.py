"""`npu-console bench` (latency, concurrency, serve) and `npu-console precision --url` against the real vLLM.

The server counts what it served in its own `/metrics`; the benchmark reads them before and after, so each
mode is checked against the engine's own numbers, not against ours. (The side-by-side with `vllm bench serve`
is tests/real_vllm/test_bench_vs_vllm.py.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.real_vllm import console, engine


def bench(mode: str, url: str, tmp_path: Path, *args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "tui", "bench", mode, "--url", url, "--json",
                           "--runs-dir", str(tmp_path / "runs"), *args],
                          capture_output=True, text=True, timeout=600, cwd=console.REPO, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def served(result: dict[str, Any]) -> dict[str, Any]:
    server: dict[str, Any] = result["server_metrics"]
    assert server["available"] is True, server
    return server


def test_bench_latency(vllm_server: engine.Engine, tmp_path: Path) -> None:
    result = bench("latency", vllm_server.url, tmp_path, "--runs", "4", "--max-tokens", "16")
    assert result["runs"] == 4 and result["server_version"] == engine.VERSION
    server = served(result)
    # sampled at the server's default temperature, a reply may end early: the client's count must be the server's
    assert server["requests"] == 4 and server["generation_tokens"] == round(4 * result["mean_output_tokens"]), server
    assert result["completed"] == 4 and result["mean_latency_ms"] > 0 and result["mean_ttft_ms"] > 0


def test_bench_concurrency(vllm_server: engine.Engine, tmp_path: Path) -> None:
    result = bench("concurrency", vllm_server.url, tmp_path, "--requests", "12", "--concurrency", "4",
                   "--max-tokens", "16")
    server = served(result)
    assert server["requests"] == 12 and server["generation_tokens"] == round(12 * result["mean_output_tokens"]), server
    assert result["completed"] == 12 and result["failed"] == 0 and result["success_rate"] == 1.0
    assert 1 <= result["max_concurrent_requests"] <= 4


def test_bench_serve(vllm_server: engine.Engine, tmp_path: Path) -> None:
    saved = tmp_path / "serve.json"
    result = bench("serve", vllm_server.url, tmp_path, "--tokenizer", str(vllm_server.model_dir),
                   "--num-prompts", "16", "--random-input-len", "64", "--random-output-len", "32",
                   "--request-rate", "inf", "--ignore-eos", "--result-json", str(saved))
    assert result["completed"] == 16 and result["failed"] == 0
    assert result["total_input_tokens"] == 16 * 64 and result["total_output_tokens"] == 16 * 32
    server = served(result)
    # the server's counts of the same run: exact prompt lengths from the model's own tokenizer, forced lengths
    assert server["requests"] == 16 and server["prompt_tokens"] == 16 * 64 and server["generation_tokens"] == 16 * 32
    for key in ("median_ttft_ms", "median_tpot_ms", "median_e2el_ms"):
        assert result[key] is not None and result[key] > 0, key
    # Events of one network read share one time (as in vLLM's own client): a busy server sends several tokens of
    # a stream in one write, so the median gap between chunks may be 0.
    assert result["median_itl_ms"] is not None and result["median_itl_ms"] >= 0
    assert json.loads(saved.read_text())["completed"] == 16


def test_precision_api_mode_compares_real_prompt_logprobs(vllm_server: engine.Engine, tmp_path: Path) -> None:
    pytest.importorskip("torch")  # the CPU float32 reference runs in the test venv (`.[test]` installs torch)
    out = tmp_path / "precision.json"
    done = subprocess.run([sys.executable, "-m", "tui", "precision", "--model", str(vllm_server.model_dir),
                           "--url", vllm_server.url, "--json", str(out), "--runs-dir", str(tmp_path / "runs"),
                           "--prompt", "The capital of France is", "--prompt", "Hello, how are you today?"],
                          capture_output=True, text=True, timeout=600, cwd=console.REPO, stdin=subprocess.DEVNULL)
    assert done.returncode in (0, 1), done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["mode"] == "api" and result["candidate"]["logprobs_source"] == "prompt_logprobs"
    assert done.returncode == (0 if result["verdict"] == "PASS" else 1)
    summary = result["summary"]
    # The same weights, bfloat16 in vLLM against float32 on the CPU: the next token agrees almost everywhere.
    assert summary["top1_agreement"] >= 0.9 and summary["top5_overlap"] >= 0.8, summary
    assert len(result["prompts"]) == 2 and all(prompt["positions"] > 0 for prompt in result["prompts"])
    assert result["notes"] == [], result["notes"]
