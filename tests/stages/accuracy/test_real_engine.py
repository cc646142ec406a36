"""The accuracy stage against the real engine (vLLM's CPU build serving a tiny random-weight Qwen2).

The tiny model cannot do arithmetic, so the figures are not the point: real chat and completion
replies (whole and streamed) are graded and kept, and vLLM's refusal of a prompt longer than the
model's context (the 4-shot prompt, here) is counted as failed requests with vLLM's own sentence,
never as wrong answers. Skips, saying how to install the engine, when it is not installed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.real_vllm import engine
from tui.stages.accuracy.__main__ import build_parser
from tui.stages.accuracy.stage import AccuracyError, run_accuracy

pytestmark = [pytest.mark.real_vllm, pytest.mark.slow]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[engine.Engine]:
    model = engine.build_model(tmp_path_factory.mktemp("models") / "tiny-qwen2", "qwen2")
    with engine.serve(model, tmp_path_factory.mktemp("vllm") / "server.log", "--max-model-len", "1024") as server:
        yield server


@pytest.mark.parametrize("form", [["--chat", "--no-stream"], ["--completion", "--stream"]])
async def test_real_replies_are_graded_and_kept(served: engine.Engine, tmp_path: Path, form: list[str]) -> None:
    items = tmp_path / "items.jsonl"
    args = build_parser().parse_args(["--url", served.url, "--limit", "6", "--shots", "0", "--max-tokens", "16",
                                      "--items", str(items), *form])
    result = await run_accuracy(args)
    assert (result["model"], result["total"], result["failed_requests"]) == ("tiny", 6, 0)
    assert result["correct"] + (result["total"] - result["correct"]) == 6 and 0 <= result["accuracy"] <= 100
    lines = [json.loads(line) for line in items.read_text().splitlines()]
    assert [line["id"] for line in lines] == list(range(6))
    assert all(line["error"] is None and isinstance(line["correct"], bool) for line in lines)
    assert all(line["finish_reason"] in ("length", "stop") and (line["completion_tokens"] or 0) <= 16
               for line in lines)


async def test_a_prompt_beyond_the_context_is_a_failed_request_not_a_wrong_answer(served: engine.Engine,
                                                                                  tmp_path: Path) -> None:
    items = tmp_path / "items.jsonl"
    args = build_parser().parse_args(["--url", served.url, "--limit", "3", "--shots", "8", "--items", str(items)])
    with pytest.raises(AccuracyError) as caught:
        await run_accuracy(args)
    assert caught.value.exit_code == 1 and "maximum context length" in str(caught.value)
    assert caught.value.result is not None
    assert (caught.value.result["failed_requests"], caught.value.result["total"]) == (3, 0)
    lines = [json.loads(line) for line in items.read_text().splitlines()]
    assert all(line["correct"] is None and "HTTP 400" in line["error"] for line in lines)
