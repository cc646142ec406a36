"""Two runs problem by problem, from files on disk: flips, problems apart, settings that differ, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tui.stages.accuracy.compare import CompareError, compare_paths, format_comparison


def write_run(folder: Path, correct: dict[int, bool | None], grader: str = "aisbench", truncated: bool = False
              ) -> Path:
    folder.mkdir(parents=True)
    lines = [json.dumps({"id": i, "question": f"Q{i}", "reference": "5", "extracted": "5" if right else "4",
                         "correct": right, "error": None if right is not None else "HTTP 500"})
             for i, right in correct.items()]
    text = "\n".join(lines) + "\n" + ('{"id": 99, "correct": tr' if truncated else "")
    (folder / "items.jsonl").write_text(text)
    graded = [right for right in correct.values() if right is not None]
    (folder / "result.json").write_text(json.dumps({
        "dataset": "gsm8k", "limit": len(correct), "shots": 4, "grader": grader, "mode": "chat", "model": "m",
        "total": len(graded), "correct": sum(graded), "accuracy": 100 * sum(graded) / len(graded),
        "extraction_failures": 0, "failed_requests": len(correct) - len(graded), "duration_s": 1.0,
        "settings": {"temperature": 0.0, "top_p": None, "max_tokens": 512}}))
    return folder


def test_flips_and_problems_kept_apart(tmp_path: Path) -> None:
    a = write_run(tmp_path / "eager", {0: True, 1: True, 2: False, 3: False, 4: None, 5: True})
    b = write_run(tmp_path / "graph", {0: True, 1: False, 2: True, 3: False, 4: True, 6: True}, truncated=True)
    comparison = compare_paths(a, b / "result.json")
    assert (comparison["a"], comparison["b"]) == ("eager", "graph")
    assert (comparison["fixed"], comparison["broken"]) == ([2], [1])
    assert (comparison["both_right"], comparison["both_wrong"], comparison["compared"]) == (1, 1, 4)
    assert (comparison["failed_in_either"], comparison["only_in_a"], comparison["only_in_b"]) == (1, 1, 1)
    assert comparison["accuracy_a"] == comparison["accuracy_b"] == 50.0
    assert comparison["settings_differ"] == {}
    text = format_comparison(comparison)
    assert "1 fixed in B, 1 broken in B" in text and "Not compared: 1 failed in either run" in text


def test_settings_that_differ_are_named(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a" / "run", {0: True}, grader="aisbench")
    b = write_run(tmp_path / "b" / "run", {0: True}, grader="boxed")
    comparison = compare_paths(a, b)
    assert comparison["settings_differ"] == {"grader": ["aisbench", "boxed"]}
    assert comparison["a"] != comparison["b"]  # two folders of one name are told apart


@pytest.mark.parametrize("setup", ["missing", "not-json", "not-accuracy", "empty-items"])
def test_what_is_no_run_is_one_sentence(tmp_path: Path, setup: str) -> None:
    good = write_run(tmp_path / "good", {0: True})
    bad = tmp_path / "bad"
    bad.mkdir()
    if setup == "not-json":
        (bad / "result.json").write_text("{")
        (bad / "items.jsonl").write_text("")
    elif setup == "not-accuracy":
        (bad / "result.json").write_text('{"mode": "serve"}')
    elif setup == "empty-items":
        (bad / "items.jsonl").write_text("garbage\n")
    with pytest.raises(CompareError) as caught:
        compare_paths(good, bad)
    assert str(bad) in str(caught.value)
