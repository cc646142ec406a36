"""`npu-console dequant` as an operator runs it: a real process, the stage under it, the run folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

from tests.stages.test_dequant import make_tensors, write_checkpoint


def dequant(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tui", "dequant", *args], capture_output=True, text=True,
                          timeout=120)


def test_cli_converts_prints_the_result_and_keeps_the_run(tmp_path: Path) -> None:
    src = write_checkpoint(tmp_path / "fp8", make_tensors(), shards=2)
    dst = tmp_path / "bf16"
    done = dequant(str(src), str(dst), "--json", "--runs-dir", str(tmp_path / "runs"))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["tensors_converted"] == 4 and result["scales_dropped"] == 4
    assert (dst / "model.safetensors").exists() or (dst / "model.safetensors.index.json").exists()
    (stage_folder,) = list((tmp_path / "runs" / "cli").glob("*/dequant-*"))
    assert json.loads((stage_folder / "result.json").read_text()) == result

    again = dequant(str(src), str(dst), "--runs-dir", str(tmp_path / "runs"))
    assert again.returncode == 2
    assert again.stderr.count("is not empty; pass --force") == 1
