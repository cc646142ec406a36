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


# ------------------------------------------------------------------------------------------- hostile


def test_a_read_only_runs_folder_is_one_sentence_and_exit_2(tmp_path: Path) -> None:
    from tests.hostile.helpers import one_sentence, run_cli, tmpfs

    src = write_checkpoint(tmp_path / "fp8", make_tensors())
    with tmpfs(tmp_path / "runs", read_only=True) as runs:
        done = run_cli(["dequant", str(src), str(tmp_path / "bf16"), "--runs-dir", str(runs)])
        assert done.returncode == 2
        assert one_sentence(done.stderr) == (
            f"npu-console dequant: cannot create a run folder under {runs}: the file system is read-only "
            f"({runs / 'cli'}); give --runs-dir a writable folder.")
    assert not (tmp_path / "bf16").exists()


def test_a_full_runs_folder_is_one_sentence_and_exit_2(tmp_path: Path) -> None:
    from tests.hostile.helpers import fill, one_sentence, run_cli, tmpfs

    src = write_checkpoint(tmp_path / "fp8", make_tensors())
    with tmpfs(tmp_path / "runs", size="64k") as runs:
        fill(runs)
        done = run_cli(["dequant", str(src), str(tmp_path / "bf16"), "--runs-dir", str(runs)])
        assert done.returncode == 2
        sentence = one_sentence(done.stderr)
        assert sentence.startswith(f"npu-console dequant: cannot create a run folder under {runs}: the disk is full")
    assert not (tmp_path / "bf16").exists()


def test_sigterm_to_the_command_stops_the_stage_which_removes_its_partial_output(tmp_path: Path) -> None:
    """The stage runs in its own session (a hang-up of the terminal does not reach it): the command stops it."""
    import os
    import signal
    import time

    import psutil

    from tests.stages.test_dequant_hostile import DRIVER

    src = write_checkpoint(tmp_path / "fp8", make_tensors())
    driver = tmp_path / "slow_disk_stage.py"
    driver.write_text(DRIVER)
    python = tmp_path / "python"  # what --python runs as `python -m tui.stages.dequant SRC DST`
    python.write_text(f'#!/bin/sh\nshift 2\nexec {sys.executable} {driver} 1024 0.5 "$@"\n')
    python.chmod(0o755)
    runs = tmp_path / "runs"
    command = subprocess.Popen([sys.executable, "-m", "tui", "dequant", str(src), str(tmp_path / "bf16"),
                                "--python", str(python), "--runs-dir", str(runs)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob(".bf16.partial-*")):
            assert command.poll() is None and time.monotonic() < deadline, command.communicate()
            time.sleep(0.05)
        (stage_json,) = list(runs.glob("cli/*/dequant-*/stage.json"))
        stage_pid = json.loads(stage_json.read_text()).get("pid")
        assert isinstance(stage_pid, int)  # written as soon as the process started, long before its partial
        command.send_signal(signal.SIGTERM)
        _out, err = command.communicate(timeout=120)
    finally:
        if command.poll() is None:
            command.kill()
            command.communicate()
    assert command.returncode == 143, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        "npu-console dequant: interrupted (SIGTERM); the stage was stopped and DST was not written.")
    try:
        assert psutil.Process(stage_pid).status() == psutil.STATUS_ZOMBIE  # reaped any moment now
    except psutil.NoSuchProcess:
        pass
    assert not (tmp_path / "bf16").exists() and not list(tmp_path.glob(".bf16.*"))
    assert json.loads(stage_json.read_text())["state"] == "cancelled"
    assert os.path.exists(stage_json.parent / "events.jsonl")
