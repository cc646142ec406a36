"""The accuracy stage against the canned server: each grader's accuracy is exactly the known value.

The stage runs in-process (`run_accuracy`) for the grader × form × streaming matrix and as a real
subprocess (`python -m tui.stages.accuracy`, as the console runs it) for the protocol and run folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.stages.accuracy.canned import MODEL, CannedServer, expected_counts, kind_of
from tui.stages.accuracy.__main__ import build_parser
from tui.stages.accuracy.stage import RESULT_KEYS, AccuracyError, run_accuracy
from tui.stages.events import LogEvent, Progress, Result, StageError, parse_event

LIMIT = 26  # two rounds of the canned kinds: 2 failed requests, 24 graded


def stage_args(url: str, *extra: str) -> list[str]:
    return ["--url", url, "--limit", str(LIMIT), *extra]


@pytest.mark.parametrize("grader", ["aisbench", "lm-eval", "boxed"])
@pytest.mark.parametrize("form", ["--chat", "--completion"])
@pytest.mark.parametrize("stream", ["--stream", "--no-stream"])
async def test_each_grader_gives_the_known_accuracy(canned: CannedServer, tmp_path: Path, grader: str, form: str,
                                                    stream: str, capsys: pytest.CaptureFixture[str]) -> None:
    items = tmp_path / "items.jsonl"
    args = build_parser().parse_args(stage_args(canned.url, "--grader", grader, form, stream, "--items", str(items),
                                                "--json", str(tmp_path / "result.json")))
    result = await run_accuracy(args)
    graded, correct, no_number, failed = expected_counts(LIMIT, grader)
    assert tuple(result) == RESULT_KEYS
    assert (result["total"], result["correct"], result["failed_requests"], result["extraction_failures"]) == (
        graded, correct, failed, no_number)
    assert result["accuracy"] == 100.0 * correct / graded
    assert result["model"] == MODEL and result["limit"] == LIMIT and result["shots"] == 4
    assert result["mode"] == form[2:] and result["grader"] == grader and result["dataset"] == "gsm8k"
    assert result["settings"] == {"temperature": 0.0, "top_p": None, "max_tokens": 512}
    assert json.loads((tmp_path / "result.json").read_text()) == result
    lines = [json.loads(line) for line in items.read_text().splitlines()]
    assert [line["id"] for line in lines] == list(range(LIMIT))
    for line in lines:
        if kind_of(line["id"]) == "fail":
            assert line["correct"] is None and "HTTP 500" in line["error"] and "canned internal error" in line["error"]
        else:
            assert isinstance(line["correct"], bool) and line["error"] is None and line["reference"]
    thought = [line for line in lines if kind_of(line["id"]) == "think"]
    if form == "--chat":  # the thinking is kept apart from the answer the graders read
        assert all("<think>" not in line["reply"] and "Maybe" in line["reasoning"] for line in thought)
    events = [parse_event(line) for line in capsys.readouterr().out.splitlines()]
    last = [event for event in events if isinstance(event, Progress)][-1]
    assert (last.done, last.total, last.extra["accuracy"]) == (LIMIT, LIMIT, result["accuracy"])
    warnings = [event.message for event in events if isinstance(event, LogEvent) and event.level == "warning"]
    assert f"{failed} of {LIMIT} requests failed and are not scored" in " ".join(warnings)
    assert f"{no_number} replies stopped at --max-tokens 512" in " ".join(warnings)
    assert f"{no_number} replies held no number the {grader} grader could read" in " ".join(warnings)


async def test_requests_carry_the_few_shot_prompt_and_the_settings(canned: CannedServer, tmp_path: Path) -> None:
    canned.requests.clear()
    args = build_parser().parse_args(["--url", canned.url + "/v1/", "--limit", "2", "--shots", "2", "--max-tokens",
                                      "300", "--temperature", "0.5", "--top-p", "0.9", "--model", MODEL,
                                      "--concurrency", "1", "--items", str(tmp_path / "i.jsonl")])
    result = await run_accuracy(args)
    assert result["settings"] == {"temperature": 0.5, "top_p": 0.9, "max_tokens": 300}
    first = canned.requests[0]
    assert (first["max_tokens"], first["temperature"], first["top_p"], first["model"]) == (300, 0.5, 0.9, MODEL)
    roles = [message["role"] for message in first["messages"]]
    assert roles == ["user", "assistant", "user", "assistant", "user"]
    assert first["messages"][1]["content"].endswith("The answer is 72") and "<<" not in first["messages"][1]["content"]
    assert first["messages"][-1]["content"].startswith("Question: Janet")
    assert first["messages"][-1]["content"].endswith("\nLet's think step by step\nAnswer:")


async def test_a_completion_prompt_is_the_examples_then_the_question(canned: CannedServer, tmp_path: Path) -> None:
    canned.requests.clear()
    args = build_parser().parse_args(["--url", canned.url, "--limit", "1", "--completion",
                                      "--items", str(tmp_path / "i.jsonl")])
    await run_accuracy(args)
    prompt = canned.requests[0]["prompt"]
    assert prompt.count("Question: ") == 5 and prompt.count("The answer is ") == 4
    assert prompt.endswith("Question: " + canned.by_question[next(iter(canned.by_question))].question
                           + "\nLet's think step by step\nAnswer:\n")


async def test_nothing_answering_is_one_sentence_and_exit_1(tmp_path: Path) -> None:
    args = build_parser().parse_args(["--url", "http://127.0.0.1:9", "--limit", "3", "--items", str(tmp_path / "i")])
    with pytest.raises(AccuracyError) as caught:
        await run_accuracy(args)
    assert caught.value.exit_code == 1 and "nothing answers at http://127.0.0.1:9" in str(caught.value)


async def test_every_request_failing_is_exit_1_with_the_counts(canned: CannedServer, tmp_path: Path) -> None:
    args = build_parser().parse_args(["--url", "http://127.0.0.1:9", "--model", "m", "--limit", "3",
                                      "--items", str(tmp_path / "i.jsonl")])
    with pytest.raises(AccuracyError) as caught:
        await run_accuracy(args)
    assert caught.value.exit_code == 1 and "no request succeeded (3 failed)" in str(caught.value)
    assert caught.value.result is not None and caught.value.result["failed_requests"] == 3
    assert caught.value.result["accuracy"] is None


def test_the_stage_speaks_the_protocol_and_fills_its_run_folder(canned: CannedServer, tmp_path: Path) -> None:
    env = {**os.environ, "NPU_CONSOLE_STAGE_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "tui.stages.accuracy", *stage_args(canned.url, "--grader", "boxed")],
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    events = [parse_event(line) for line in done.stdout.splitlines()]
    assert all(not isinstance(event, str) for event in events), done.stdout
    results = [event for event in events if isinstance(event, Result)]
    assert len(results) == 1 and results[0].data["correct"] == expected_counts(LIMIT, "boxed")[1]
    assert any(isinstance(event, Progress) and event.unit == "problem" for event in events)
    assert len((tmp_path / "items.jsonl").read_text().splitlines()) == LIMIT


@pytest.mark.parametrize("bad", [["--shots", "17"], ["--limit", "0"], ["--grader", "regex"], ["--temperature", "-1"],
                                 ["--chat", "--completion"], ["--top-p", "0"]])
def test_bad_options_are_an_error_event_and_exit_2(bad: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "tui.stages.accuracy", "--url", "http://127.0.0.1:9", *bad],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    (event,) = [parse_event(line) for line in done.stdout.splitlines()]
    assert isinstance(event, StageError) and event.message.startswith("python -m tui.stages.accuracy: ")


@pytest.mark.parametrize("grader", ["aisbench", "lm-eval", "boxed"])
async def test_the_whole_split_gives_the_known_accuracy(canned: CannedServer, tmp_path: Path, grader: str) -> None:
    """All 1,319 problems: every reference (thousands, large numbers) through every grader, exactly as keyed."""
    args = build_parser().parse_args(["--url", canned.url, "--limit", "all", "--grader", grader, "--concurrency", "32",
                                      "--items", str(tmp_path / "items.jsonl")])
    result = await run_accuracy(args)
    graded, correct, no_number, failed = expected_counts(1319, grader)
    assert (result["limit"], result["total"], result["correct"], result["extraction_failures"],
            result["failed_requests"]) == (1319, graded, correct, no_number, failed)
