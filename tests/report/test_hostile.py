"""A report from folders that hold garbage: unreadable, truncated, binary, FIFOs, deep nesting. It is written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_garbage_in_a_run_folder_never_stops_the_report(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text('{"profile": "demo", "started": 12}')
    (run / "launch.json").write_text("null")
    (run / "environment.json").write_text("[" * 100_000 + "]" * 100_000)
    (run / "server.log").write_bytes(os.urandom(256 * 1024) + b"\nINFO 12-07 10:00:00 [x.py:1] hello\n")
    os.mkfifo(run / "facts.json")  # opening it for reading would block forever
    os.mkfifo(run / "launch.sh")
    stage = run / "bench-20261207-100000"
    stage.mkdir()
    (stage / "stage.json").write_text('{"name": "bench", "state": "running", "pid": 999999999}')  # gone
    (stage / "result.json").write_text('[1, 2, 3]')
    cut = run / "accuracy-20261207-100002"
    cut.mkdir()
    (cut / "stage.json").write_text('{"name": "accuracy", "state": "succ')  # cut off mid-write
    (stage / "events.jsonl").write_text('{"event": "log", "level": "warning", "message": 7}\nnot json "warning"\n')
    other = run / "precision-20261207-100001"
    other.mkdir()
    (other / "stage.json").write_text('{"name": "precision", "state": "failed", "error": "the device is gone"}')
    (other / "result.json").write_text('{"verdict": "FAIL", "summary": [], "prompts": {"a": 1}, "thresholds": 3}')
    os.mkfifo(other / "events.jsonl")
    done = subprocess.run([sys.executable, "-m", "tui", "report", str(run), "--lang", "en"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    markdown = (run / "report.md").read_text()
    assert "## 8. Notes" in markdown and "the device is gone" in markdown
    assert "Stage bench (bench-20261207-100000) interrupted" in markdown
    assert "Verdict: **FAIL** (— mode; reference —/—, candidate —/—)." in markdown
    assert "Stage accuracy (accuracy-20261207-100002) unknown" in markdown
    assert not any(ord(char) < 32 and char not in "\n\t" for char in markdown), "no raw control bytes from the log"
    assert "| Metric | Value | Threshold | Result |" not in markdown, "no empty table"
