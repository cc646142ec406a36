"""`npu-console smi`: options, exit statuses, the JSON object and the human table, in process."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.devices.fake_tools import fake_npu_smi, script
from tests.devices.shared_corpus import OWN_FIXTURES, REPO
from tui.commands import smi
from tui.devices import locate

NPU = OWN_FIXTURES / "npu-smi"
TABLE = NPU / "950PR_4npu_alarm_procs_25.7.rc1.txt"


def run_smi(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="npu-console smi")
    smi.add_arguments(parser)
    return smi.run(parser.parse_args(list(argv)))


@pytest.fixture
def tools_on(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """PATH is a fresh folder (put fake tools in it); the driver's own folders are not searched."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))

    def on_path(name: str, env: Mapping[str, str] | None, dirs: object = ()) -> str | None:
        return shutil.which(name, path=(env or {}).get("PATH", ""))

    monkeypatch.setattr(locate, "find_executable", on_path)
    return folder


def test_json_is_exactly_the_snapshot_object(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_smi("--file", str(TABLE), "--json") == 0
    out = capsys.readouterr()
    assert json.loads(out.out) == json.loads(TABLE.with_suffix(".json").read_text())
    assert list(json.loads(out.out)) == [
        "backend", "tool_version", "driver_version", "chips", "processes", "mapping", "warnings", "error",
    ]
    assert out.err == ""


def test_human_table_shows_chips_processes_and_na(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_smi("--file", str(NPU / "310P3_300I-Duo_2card-4chip_procs_25.5.1.txt")) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "npu-smi 25.5.1 (driver 25.5.1): 4 chip(s), 3 process(es)"
    assert lines[1].split() == ["NPU", "CHIP", "NAME", "HEALTH", "POWER", "TEMP", "UTIL", "MEMORY(MB)", "BUS-ID"]
    first = lines[2].split()
    assert first[:5] == ["1", "0", "310P3", "OK", "N/A"] and first[-1] == "0000:3B:00.0"
    assert any(line.split()[:3] == ["NPU", "CHIP", "PID"] for line in lines)


def test_a_saved_error_output_exits_1_with_the_error_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_smi("--file", str(NPU / "error_dcmi-8020_device-used.txt"), "--json") == 1
    out = capsys.readouterr()
    assert json.loads(out.out)["error"] == "dcmi model initialized failed, because the device is used. ret is -8020"
    assert out.err.count("\n") == 1 and "ret is -8020" in out.err


@pytest.mark.parametrize(("argv", "says"), [
    (["--file", "/no/such/file.txt"], "cannot read /no/such/file.txt"),
    (["--file", "F", "--backend", "npu"], "choose one of them"),
    (["--backend", "replay"], "--file F"),
    (["--timeout", "0"], "positive"),
])
def test_bad_usage_and_unreadable_files_exit_2_with_one_sentence(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_smi(*argv) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1 and err.startswith("npu-console smi: ")


def test_an_empty_file_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    assert run_smi("--file", str(empty)) == 2
    assert "is empty" in capsys.readouterr().err


def test_no_tool_on_the_host_exits_2_with_the_not_found_sentence(
    tools_on: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_smi() == 2
    assert capsys.readouterr().err.strip() == f"npu-console smi: {locate.not_found_sentence()}"


def test_live_npu_smi_through_the_backend(tools_on: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake_npu_smi(tools_on, tmp_path / "log")
    assert run_smi("--backend", "npu", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["chips"]) == 16 and len(data["mapping"]) == 4


def test_a_hung_tool_exits_1_within_the_timeout(tools_on: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script(tools_on, "npu-smi", "exec sleep 600\n")
    assert run_smi("--timeout", "0.5") == 1
    assert "did not answer within 0.5 s" in capsys.readouterr().err


def test_replay_backend_reads_the_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_smi("--backend", "replay", "--file", str(OWN_FIXTURES / "nvidia-smi" / "h100-sxm_8gpu_query-gpu.csv"),
                   "--json") == 0
    assert json.loads(capsys.readouterr().out)["backend"] == "nvidia-smi"


def test_python_m_tui_smi_when_the_cli_has_the_subcommand() -> None:
    from tui.cli import build_parser

    subcommands = [action for action in build_parser()._actions if isinstance(action, argparse._SubParsersAction)]
    if not any("smi" in action.choices for action in subcommands):
        pytest.skip("tui/cli.py does not wire `smi` yet")
    result = subprocess.run(
        [sys.executable, "-m", "tui", "smi", "--file", str(TABLE), "--json"],
        capture_output=True, text=True, timeout=60, cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == json.loads(TABLE.with_suffix(".json").read_text())
    missing = subprocess.run([sys.executable, "-m", "tui", "smi", "--file", "/no/such"], capture_output=True,
                             text=True, timeout=60, cwd=REPO)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
