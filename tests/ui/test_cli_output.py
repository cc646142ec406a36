"""What a stage command prints into a pipe: whole lines, no progress frames, no Python reprs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("safetensors")

from tests.stages.test_dequant import make_tensors, write_checkpoint


def test_dequant_dry_run_into_a_pipe_prints_plain_lines(tmp_path: Path) -> None:
    src = write_checkpoint(tmp_path / "fp8", make_tensors())
    done = subprocess.run(
        [sys.executable, "-m", "tui", "dequant", str(src), str(tmp_path / "bf16"), "--dry-run",
         "--runs-dir", str(tmp_path / "runs")],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    err_lines = done.stderr.splitlines()
    info = [index for index, line in enumerate(err_lines) if line.startswith("info: ")]
    assert len(info) >= 3
    assert all(err_lines[i + 1].strip() for i in info[:-1]), "no blank line between info: lines"
    assert "\r" not in done.stderr, "no progress frames into a pipe"
    assert "{'" not in done.stdout and "': " not in done.stdout, "nested values as JSON, not a Python dict"
    assert any(line.startswith('plan: {"') for line in done.stdout.splitlines())
