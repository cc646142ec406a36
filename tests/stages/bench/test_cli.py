"""`npu-console bench` as an operator runs it: real processes, the stage under them, the run folder, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def bench(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tui", "bench", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_serve_prints_the_summary_and_keeps_the_run(instant_url: str, tmp_path: Path) -> None:
    saved = tmp_path / "graph.json"
    done = bench("serve", "--url", instant_url, "--num-prompts", "8", "--random-input-len", "32",
                 "--random-output-len", "16", "--request-rate", "inf", "--result-json", str(saved), "--label", "graph",
                 "--runs-dir", str(tmp_path / "runs"))
    assert done.returncode == 0, done.stderr
    assert "Serving Benchmark Result" in done.stdout and "Mean TTFT (ms):" in done.stdout
    assert "P99 ITL (ms):" in done.stdout and "Server generated tokens:" in done.stdout
    result = json.loads(saved.read_text())
    assert result["completed"] == 8 and result["label"] == "graph" and result["total_input_tokens"] == 8 * 32
    (folder,) = list((tmp_path / "runs" / "cli").glob("*/bench-*"))
    assert json.loads((folder / "result.json").read_text()) == result
    assert result["requests_file"] == str(folder / "requests.jsonl")
    assert len((folder / "requests.jsonl").read_text().splitlines()) == 8


def test_latency_json_and_compare(instant_url: str, tmp_path: Path) -> None:
    runs = str(tmp_path / "runs")
    first = bench("latency", "--url", instant_url, "--runs", "3", "--json", "--label", "eager", "--runs-dir", runs,
                  "--result-json", str(tmp_path / "a.json"))
    second = bench("latency", "--url", instant_url, "--runs", "3", "--label", "graph", "--runs-dir", runs,
                   "--result-json", str(tmp_path / "b.json"))
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert json.loads(first.stdout)["runs"] == 3
    table = bench("compare", str(tmp_path / "a.json"), str(tmp_path / "b.json"))
    assert table.returncode == 0 and "mean_latency_ms" in table.stdout and "eager" in table.stdout
    as_json = json.loads(bench("compare", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--json").stdout)
    assert (as_json["a"], as_json["b"]) == ("eager", "graph")
    assert {"metric", "a", "b", "delta_pct", "better"} == set(as_json["rows"][0])


def test_a_dead_url_exits_1_with_one_sentence(tmp_path: Path) -> None:
    done = bench("latency", "--url", "http://127.0.0.1:9", "--runs-dir", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr.count("nothing answers at http://127.0.0.1:9; is the server up?") == 1


@pytest.mark.parametrize("bad", [["--request-rate", "0"], ["--percentiles", "50,101"], ["--goodput", "ttfx:10"],
                                 ["--header", "no-colon"]])
def test_bad_options_exit_2(bad: list[str], tmp_path: Path) -> None:
    done = bench("serve", "--url", "http://127.0.0.1:9", *bad, "--runs-dir", str(tmp_path))
    assert done.returncode == 2 and "error:" in done.stderr


def test_compare_of_an_unreadable_file_exits_2(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    done = bench("compare", str(tmp_path / "bad.json"), str(tmp_path / "missing.json"))
    assert done.returncode == 2 and "is not JSON" in done.stderr


def test_the_stage_itself_reports_bad_options_as_an_event() -> None:
    done = subprocess.run([sys.executable, "-m", "tui.stages.bench", "serve", "--url", "x", "--burstiness", "-1"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    (event,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert event["event"] == "error" and "burstiness" in event["message"]


def test_the_stage_compares_two_saved_results(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps({"label": "eager", "output_throughput": 100.0}))
    (tmp_path / "b.json").write_text(json.dumps({"event": "result", "data": {"output_throughput": 125.0}}))
    done = subprocess.run([sys.executable, "-m", "tui.stages.bench", "compare", str(tmp_path / "a.json"),
                           str(tmp_path / "b.json")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout
    (event,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert event["event"] == "result" and event["data"]["a"] == "eager"
    assert event["data"]["b"] == str(tmp_path / "b.json")
    assert event["data"]["rows"] == [{"metric": "output_throughput", "a": 100.0, "b": 125.0, "delta_pct": 25.0,
                                      "better": "b"}]
