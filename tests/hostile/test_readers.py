"""Issue 14 finding 3 (the readers we own) and issue 15 item 11: `log facts` and `smi --file` read
regular files only, in bounded memory, and refuse what is not their input."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from tests.hostile.helpers import REPO, one_sentence, run_cli
from tui.files.bounded_input import BoundedLines

RSS_BOUND_MB = 120.0  # the interpreter and the parser: ~25-40 MB; the issue measured 2.6-12.9 GB
VLLM_LINE = b"INFO 12-07 10:00:00 [api_server.py:1] vLLM API server version 0.9.2\n"
SMI = Path("/work/shared/fixtures/npu-smi/001_910B3_8npu_24.1.rc1.b030.txt")


@pytest.mark.parametrize("command", [["log", "facts"], ["smi", "--file"]])
def test_dev_zero_is_refused_in_one_sentence(command: list[str]) -> None:
    run = run_cli([*command, "/dev/zero"], timeout=60)
    assert run.returncode == 2
    assert "/dev/zero is a character device, not a regular file" in one_sentence(run.stderr)
    assert run.peak_rss_mb < RSS_BOUND_MB


@pytest.mark.parametrize("command", [["log", "facts"], ["smi", "--file"]])
def test_a_fifo_is_refused_without_waiting_for_a_writer(command: list[str], tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    run = run_cli([*command, str(fifo)], timeout=60)
    assert run.returncode == 2
    assert "is a pipe (FIFO), not a regular file" in one_sentence(run.stderr)


def _sparse(path: Path, head: bytes = b"", size: int = 2 << 30) -> Path:
    with open(path, "wb") as handle:
        handle.write(head)
        handle.truncate(size)
    return path


def test_a_2_gb_sparse_log_streams_in_bounded_memory(tmp_path: Path) -> None:
    log = _sparse(tmp_path / "server.log", VLLM_LINE)
    run = run_cli(["log", "facts", str(log)], timeout=300)
    print(f"log facts on a 2 GB sparse file: peak RSS {run.peak_rss_mb:.1f} MB")
    assert run.returncode == 0, run.stderr
    assert "2 lines, vLLM 0.9.2" in run.stdout
    assert "1 line(s) longer than 64 Ki characters were cut" in run.stderr
    assert run.peak_rss_mb < RSS_BOUND_MB


def test_a_2_gb_sparse_file_is_not_npu_smi_output(tmp_path: Path) -> None:
    saved = _sparse(tmp_path / "saved.txt", SMI.read_bytes() if SMI.exists() else b"")
    run = run_cli(["smi", "--file", str(saved)], timeout=120)
    assert run.returncode == 2
    assert "larger than 16 MiB" in one_sentence(run.stderr)
    assert run.peak_rss_mb < RSS_BOUND_MB


@pytest.mark.parametrize(("command", "says"), [
    (["log", "facts"], "does not look like a vLLM server log"),
    (["smi", "--file"], "does not look like npu-smi output"),
])
def test_a_file_that_is_not_the_input_is_exit_2(command: list[str], says: str) -> None:
    run = run_cli([*command, str(REPO / "README.md")])
    assert run.returncode == 2
    assert says in one_sentence(run.stderr)
    assert run.stdout == ""


def test_real_inputs_still_read() -> None:
    log = REPO / "tests/fixtures/vllm-logs/cuda-0.9-trust-remote-code.log"
    assert run_cli(["log", "facts", str(log)]).returncode == 0
    if SMI.exists():
        assert run_cli(["smi", "--file", str(SMI)]).returncode == 0


def test_bounded_lines_cut_and_count_at_any_block_size() -> None:
    data = b"short\n" + b"x" * 100 + b"\nmid\n" + "é".encode() * 40 + b"\nend"
    for block in (1, 3, 7, 64, 4096):
        lines = BoundedLines(io.BytesIO(data), max_line=20, block=block)
        assert "".join(lines) == "short\n" + "x" * 20 + "\nmid\n" + "é" * 20 + "\nend\n"
        assert lines.cut_lines == 2


async def test_a_device_tool_that_prints_without_end_is_stopped_at_the_cap() -> None:
    """npu-smi that never stops printing: the runner keeps at most 8 MiB, stops it, and says so."""
    import shutil

    from tui.processes.commands import MAX_OUTPUT_BYTES, SubprocessRunner

    yes = shutil.which("yes")
    if yes is None:
        pytest.skip("no `yes` on this host")
    result = await SubprocessRunner().run([yes, "npu-smi"], timeout=60)
    assert result.error is not None and f"printed more than {MAX_OUTPUT_BYTES >> 20} MiB" in result.error
    assert not result.timed_out and result.stdout == ""
