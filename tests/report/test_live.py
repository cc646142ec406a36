"""A report made the way an operator makes it: real launches on the simulated host, then `npu-console report`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.report.conftest import markdown_table_cell
from tests.report.session import SECRET, record_session


def report(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tui", "report", *argv], capture_output=True, text=True,
                          timeout=120)


def test_a_session_of_real_runs_becomes_a_report_in_both_languages(tmp_path: Path) -> None:
    runs = record_session(tmp_path / "session")
    launches = [run for run in runs if (run / "launch.json").exists()]
    assert len(launches) == 2 and all((run / "environment.json").exists() for run in launches), \
        "every launch leaves environment.json beside launch.json"
    out = tmp_path / "out" / "report.md"
    done = report(*map(str, runs), "--lang", "en", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(out), str(out.with_suffix(".json"))]
    markdown, data = out.read_text(), json.loads(out.with_suffix(".json").read_text())
    assert SECRET not in markdown and SECRET not in json.dumps(data) and "repeat <redacted>" in markdown
    status = {section["id"]: section["status"] for section in data["sections"]}
    assert status["precision"] == status["accuracy"] == "not_run"
    assert status["inference"] == status["performance"] == status["environment"] == "ok"
    assert "Not run: no precision check." in markdown and "npu-console accuracy --url http://127.0.0.1:" in markdown
    assert markdown_table_cell(markdown, "CANN", 1) == "8.0.RC2"
    assert markdown_table_cell(markdown, "Variants launched", 1) == "eager, graph"
    first_bench = next(folder for run in runs for folder in sorted(run.glob("bench-*")))
    bench = json.loads((first_bench / "result.json").read_text())
    assert bench["label"] == "eager"
    assert markdown_table_cell(markdown, "request_throughput", 1) == f"{bench['request_throughput']:.2f}"
    assert "| Metric | eager | graph | Δ (%) | Better |" in markdown
    chinese = tmp_path / "zh.md"
    profile_folders = sorted({str(run.parent) for run in runs})  # runs/demo and runs/cli: every session inside
    assert report(*profile_folders, "--out", str(chinese)).returncode == 0
    assert json.loads(chinese.with_suffix(".json").read_text())["runs"] == [
        str(run.relative_to(tmp_path)) for run in sorted(runs, key=lambda run: (str(run.parent), run.name))]
    assert "## 3. 推理验证" in chinese.read_text() and "两次一致" in chinese.read_text()


def test_bad_folders_and_outputs_exit_2_with_one_sentence(tmp_path: Path) -> None:
    missing = report(str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "is not a folder" in missing.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    assert report(str(empty)).returncode == 2
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text('{"profile": "demo"}')
    blocked = tmp_path / "file"
    blocked.write_text("")
    unwritable = report(str(run), "--out", str(blocked / "report.md"))
    assert unwritable.returncode == 2 and "cannot write" in unwritable.stderr and "Traceback" not in unwritable.stderr
    assert report(str(run)).returncode == 0 and (run / "report.md").exists() and (run / "report.json").exists()
