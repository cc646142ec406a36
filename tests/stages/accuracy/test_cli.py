"""`npu-console accuracy` as an operator runs it: a real process, the stage under it, the run folder, exit codes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.stages.accuracy.canned import CannedServer, expected_counts
from tui.stages.accuracy.stage import RESULT_KEYS


def accuracy(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tui", "accuracy", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_a_run_prints_the_summary_writes_json_and_keeps_the_items(canned: CannedServer, tmp_path: Path) -> None:
    saved = tmp_path / "acc.json"
    done = accuracy("--url", canned.url, "--limit", "13", "--grader", "lm-eval", "--completion", "--concurrency", "4",
                    "--json", str(saved), "--runs-dir", str(tmp_path / "runs"))
    assert done.returncode == 0, done.stderr
    graded, correct, _, failed = expected_counts(13, "lm-eval")
    result = json.loads(saved.read_text())
    assert tuple(result) == RESULT_KEYS
    assert (result["total"], result["correct"], result["failed_requests"]) == (graded, correct, failed)
    assert re.search(rf"^Correct: +{correct} / {graded}$", done.stdout, re.MULTILINE)
    assert re.search(rf"^Accuracy: +{100 * correct / graded:.2f} %$", done.stdout, re.MULTILINE)
    assert "1 of 13 requests failed and are not scored" in done.stderr
    (folder,) = list((tmp_path / "runs" / "cli").glob("*/accuracy-*"))
    assert json.loads((folder / "result.json").read_text()) == result
    assert len((folder / "items.jsonl").read_text().splitlines()) == 13
    assert f"Run files: {folder}" in done.stderr


def test_compare_lists_the_problems_that_flipped(canned: CannedServer, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    for grader in ("aisbench", "boxed"):
        done = accuracy("--url", canned.url, "--limit", "13", "--grader", grader, "--runs-dir", str(runs))
        assert done.returncode == 0, done.stderr
    by_grader = {json.loads((folder / "result.json").read_text())["grader"]: folder
                 for folder in (runs / "cli").glob("*/accuracy-*")}
    first, second = by_grader["aisbench"], by_grader["boxed"]
    table = accuracy("compare", str(first), str(second / "result.json"))
    assert table.returncode == 0, table.stderr
    assert "12 problems answered in both" in table.stdout and "Settings differ: grader aisbench → boxed" in table.stdout
    as_json = json.loads(accuracy("compare", str(first / "items.jsonl"), str(second), "--json").stdout)
    # aisbench → boxed: boxed-then-a-number (4, 12) and ####-then-a-number (5) fixed, the corrected phrase (6, 11)
    # broken; the HTTP 500 (10) is not compared
    assert (as_json["fixed"], as_json["broken"], as_json["failed_in_either"]) == ([4, 5, 12], [6, 11], 1)
    assert {flip["id"]: flip["b"] for flip in as_json["flips"]}[4] == "20"


def test_no_url_is_a_usage_error() -> None:
    done = accuracy("--limit", "3")
    assert done.returncode == 2 and done.stderr.strip().startswith("npu-console accuracy: --url is required")


def test_a_dead_url_exits_1_with_one_sentence(tmp_path: Path) -> None:
    done = accuracy("--url", "http://127.0.0.1:9", "--limit", "2", "--runs-dir", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr.count("nothing answers at http://127.0.0.1:9") == 1 and "Traceback" not in done.stderr


@pytest.mark.parametrize("bad", [["--shots", "-1"], ["--grader", "exact"], ["--max-tokens", "0"]])
def test_bad_options_exit_2(bad: list[str], tmp_path: Path) -> None:
    done = accuracy("--url", "http://127.0.0.1:9", *bad, "--runs-dir", str(tmp_path))
    assert done.returncode == 2 and "error:" in done.stderr


def test_compare_of_something_that_is_no_run_exits_2(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("{}")
    done = accuracy("compare", str(tmp_path / "x.json"), str(tmp_path / "missing"))
    assert done.returncode == 2 and done.stderr.startswith("npu-console accuracy compare: ")
    assert "Traceback" not in done.stderr


def test_an_unwritable_json_path_is_one_sentence_and_the_result_is_kept(canned: CannedServer, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    done = accuracy("--url", canned.url, "--limit", "2", "--json", str(blocker / "acc.json"), "--runs-dir",
                    str(tmp_path / "runs"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"cannot write --json {blocker / 'acc.json'}" in done.stderr
    (folder,) = list((tmp_path / "runs" / "cli").glob("*/accuracy-*"))
    assert json.loads((folder / "result.json").read_text())["limit"] == 2
