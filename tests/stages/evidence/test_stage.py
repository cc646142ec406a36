"""The evidence stage against real servers on loopback: the simulated vLLM and a server that drifts."""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import subprocess
from pathlib import Path

import pytest

from tui.stages.events import STAGE_DIR_ENV
from tui.stages.evidence.__main__ import build_parser
from tui.stages.evidence.options import DEFAULT_CHAT_PROMPTS
from tui.stages.evidence.stage import PROMPTS_FILE, EvidenceError, run_evidence


def args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["--no-environment", *argv])


async def test_prompts_twice_at_temperature_0_are_deterministic_on_the_simulator(
        sim_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STAGE_DIR_ENV, str(tmp_path))
    result = await run_evidence(args("--url", sim_url, "--prompt", "say hi", "--prompt", "中国的首都是哪里？",
                                     "--max-tokens", "16"))
    assert result["temperature"] == 0.0 and result["runs_per_prompt"] == 2 and result["server_version"]
    assert [item["prompt"] for item in result["prompts"]] == ["say hi", "中国的首都是哪里？"]
    for item in result["prompts"]:
        assert item["deterministic"] is True and item["request"]["temperature"] == 0.0
        assert item["request"]["max_tokens"] == 16 and item["request"]["stream"] is True
        first, second = item["runs"]
        assert first["output"] == second["output"] != "" and first["error"] is None
        assert 0 < first["completion_tokens"] <= 16 and first["finish_reason"] in ("stop", "length")
        assert first["latency_ms"] >= first["ttft_ms"] >= 0
    assert result["summary"] == {**result["summary"], "prompts": 2, "runs": 4, "failed_runs": 0, "deterministic": 2,
                                 "nondeterministic": 0}
    lines = [json.loads(line) for line in (tmp_path / PROMPTS_FILE).read_text().splitlines()]
    assert [(line["prompt_index"], line["run"]) for line in lines] == [(0, 0), (0, 1), (1, 0), (1, 1)]


async def test_the_exchanges_are_curl_commands_that_repeat_the_request(sim_url: str) -> None:
    result = await run_evidence(args("--url", sim_url + "/v1", "--prompt", "say hi", "--max-tokens", "8"))
    exchanges = result["exchanges"]
    assert {name: exchanges[name]["status"] for name in exchanges} == {
        "models": 200, "version": 200, "chat": 200, "completion": 200}
    assert exchanges["models"]["response"]["data"][0]["id"] == result["model"]
    assert exchanges["chat"]["response"]["choices"][0]["message"]["content"]
    assert exchanges["completion"]["response"]["choices"][0]["text"]
    argv = shlex.split(exchanges["chat"]["curl"].replace("\\\n", " "))
    repeated = await asyncio.to_thread(subprocess.run, argv, capture_output=True, text=True, timeout=30, check=True)
    again = json.loads(repeated.stdout)
    assert again["choices"][0]["message"]["content"] == exchanges["chat"]["response"]["choices"][0]["message"][
        "content"], "temperature 0: the pasted curl gets the same answer"


async def test_the_default_prompt_set_and_completion_mode(sim_url: str) -> None:
    chat = await run_evidence(args("--url", sim_url, "--max-tokens", "4"))
    assert [item["prompt"] for item in chat["prompts"]] == list(DEFAULT_CHAT_PROMPTS)
    completion = await run_evidence(args("--url", sim_url, "--mode", "completion", "--prompt", "The capital of",
                                         "--max-tokens", "4"))
    assert completion["prompts"][0]["request"]["prompt"] == "The capital of"
    assert completion["prompts"][0]["deterministic"] is True


async def test_answers_that_differ_are_reported_as_nondeterministic(drifting_server: str) -> None:
    result = await run_evidence(args("--url", drifting_server, "--prompt", "say hi"))
    (item,) = result["prompts"]
    assert item["deterministic"] is False
    assert [run["output"] for run in item["runs"]] != [item["runs"][0]["output"]] * 2
    assert result["summary"]["nondeterministic"] == 1 and result["server_version"] == "0.0-drift"


async def test_no_server_is_one_sentence() -> None:
    with pytest.raises(EvidenceError) as raised:
        await run_evidence(args("--url", "http://127.0.0.1:9"))
    assert "127.0.0.1:9" in str(raised.value) and raised.value.exit_code == 1


async def test_the_api_key_stays_a_variable_in_the_curl(sim_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVIDENCE_TEST_KEY", "sk-thisisnotarealkeybutlookslikeone")
    result = await run_evidence(args("--url", sim_url, "--prompt", "say hi", "--max-tokens", "4",
                                     "--api-key-env", "EVIDENCE_TEST_KEY"))
    text = json.dumps(result)
    assert "sk-thisisnotarealkey" not in text
    assert '-H "Authorization: Bearer $EVIDENCE_TEST_KEY"' in result["exchanges"]["chat"]["curl"]
