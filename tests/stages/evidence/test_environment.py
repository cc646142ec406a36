"""Environment capture against a fake /usr/local/Ascend tree, real interpreters and a real npu-smi program."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.stages.evidence.conftest import FIXTURES, executable, fake_ascend
from tui.devices.backends import parse_saved_output
from tui.evidence import ascend_files
from tui.evidence.environment import ENVIRONMENT_FILE, capture_environment, firmware_version, write_environment
from tui.evidence.packages import PACKAGES, package_versions, serving_python
from tui.processes.commands import SubprocessRunner

REPO = Path(__file__).resolve().parents[3]
SNAPSHOT = REPO / "tests" / "fixtures" / "npu-smi" / "910B3_8npu_procs_driver-warning_24.1.0.txt"


def capture(root: Path, env: dict[str, str], **kwargs: Any) -> Any:
    return asyncio.run(capture_environment(env=env, ascend_root=root, **kwargs))


def test_every_field_from_a_fake_ascend_install(tmp_path: Path, no_device_tools: dict[str, str]) -> None:
    root = fake_ascend(tmp_path / "Ascend")
    snapshot = parse_saved_output(SNAPSHOT.read_text())
    data = capture(root, no_device_tools, stage_python=sys.executable, snapshot=snapshot)
    cann = data["cann"]
    assert cann["value"] == "8.0.RC2" and cann["innerversion"] == "V100R001C18SPC001B241"
    assert cann["source"] == str(root / "ascend-toolkit" / "latest" / "aarch64-linux" /
                                 "ascend_toolkit_install.info")
    assert cann["latest_link"] == "8.0.RC2"
    assert data["driver"] == {"value": "24.1.rc2", "source": str(root / "driver" / "version.info"),
                              "innerversion": "V100R001C17SPC002B224"}
    firmware = data["firmware"]
    assert firmware["value"] == "7.8.0.6.201" and firmware["software_version"] == "25.5.1"
    assert firmware["source"] == "npu-smi info -t board -i 0"
    chips = data["chips"]
    assert chips["count"] == 8 and chips["value"][0]["name"] == "910B3"
    assert chips["value"][0]["hbm_total_mb"] == 65536
    assert data["interpreter_chosen_as"] == "the profile's stage Python"
    packages = data["packages"]
    assert set(packages) == set(PACKAGES)
    assert packages["torch"]["value"] and "importlib.metadata" in packages["torch"]["source"]
    assert packages["vllm-mindspore"] == {"value": None,
                                          "reason": f"not installed for {sys.executable}"}
    assert data["os"]["value"] and data["cpu"]["logical_cpus"]


def test_cann_found_by_walking_ascend_home_path_in_a_new_layout(tmp_path: Path) -> None:
    """Newer CANN moves the files: the version.info of the toolkit package under ASCEND_HOME_PATH is found."""
    home = tmp_path / "Ascend" / "cann-8.5.0"
    info = home / "share" / "info" / "toolkit" / "version.info"
    info.parent.mkdir(parents=True)
    info.write_text("package_name=Ascend-cann-toolkit\nversion=8.5.0\ninnerversion=V100R001C25B010\n")
    (home / "opp" / "version.info").parent.mkdir(parents=True)
    (home / "opp" / "version.info").write_text("Version=7.7.0.1.238\n")  # a component's inner version: skipped
    found = ascend_files.cann_version({"ASCEND_HOME_PATH": str(home)}, tmp_path / "nothing")
    assert found["value"] == "8.5.0" and found["source"] == str(info)


def test_nothing_installed_gives_null_with_reasons(tmp_path: Path, no_device_tools: dict[str, str]) -> None:
    data = capture(tmp_path / "no-ascend", no_device_tools, stage_python=str(tmp_path / "no-python"),
                   system_root=tmp_path / "empty-root")
    for key in ("cann", "driver", "firmware", "chips", "os", "cpu", "python"):
        field = data[key]
        assert field["value"] is None and field["reason"], key
    assert "does not exist" in data["driver"]["reason"]
    assert "npu-smi was not found" in data["firmware"]["reason"]
    assert "not found" in data["chips"]["reason"] or "Neither" in data["chips"]["reason"]
    assert all(entry["value"] is None and "no-python" in entry["reason"]
               for entry in data["packages"].values())


def test_firmware_from_a_chip_level_board_block_and_a_failing_tool(tmp_path: Path) -> None:
    chip_level = fake_ascend(tmp_path / "a", board=FIXTURES / "910-series_info-t-board-i0-c0_chip-level.txt")
    found = asyncio.run(firmware_version(SubprocessRunner({}), {"PATH": ""}, chip_level, 0))
    assert found["value"] == "7.1.0.7.220"
    failing = tmp_path / "b"
    executable(failing / "driver" / "tools" / "npu-smi",
               "#!/bin/sh\necho 'dcmi module initialize failed. ret is -8005'\nexit 1\n")
    broken = asyncio.run(firmware_version(SubprocessRunner({}), {"PATH": ""}, failing, 0))
    assert broken == {"value": None, "reason": "npu-smi info -t board -i 0 exited with 1: dcmi module initialize "
                                               "failed. ret is -8005"}


def test_a_hanging_npu_smi_is_stopped_at_the_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tui.evidence.environment as environment

    monkeypatch.setattr(environment, "NPU_SMI_TIMEOUT_S", 0.5)
    executable(tmp_path / "driver" / "tools" / "npu-smi", "#!/bin/sh\nsleep 60\n")
    found = asyncio.run(firmware_version(SubprocessRunner({}), {"PATH": ""}, tmp_path, 0))
    assert found["value"] is None and "did not answer within 0.5 s" in found["reason"]


def test_the_serving_interpreter_is_the_one_in_the_server_programs_shebang(tmp_path: Path) -> None:
    vllm = executable(tmp_path / "bin" / "vllm", f"#!{sys.executable}\nprint('serve')\n")
    env = {"PATH": str(vllm.parent)}
    assert serving_python(["vllm", "serve"], env) == (sys.executable, f"the interpreter of {vllm}")
    env_style = executable(tmp_path / "other" / "vllm", "#!/usr/bin/env python3-for-test\n")
    executable(tmp_path / "other" / "python3-for-test", "#!/bin/sh\n")
    assert serving_python([str(env_style)], {"PATH": str(env_style.parent)})[0] == str(
        tmp_path / "other" / "python3-for-test")
    shell = executable(tmp_path / "sh" / "vllm", "#!/bin/sh\nexec true\n")
    assert serving_python([str(shell)], {})[0] == sys.executable  # not a Python program: our own, said so
    assert serving_python(["vllm"], env, "/opt/env/bin/python") == ("/opt/env/bin/python",
                                                                    "the profile's stage Python")


def test_a_serving_interpreter_that_crashes_gives_reasons(tmp_path: Path) -> None:
    broken = executable(tmp_path / "python", "#!/bin/sh\necho 'Fatal Python error: init_fs_encoding' >&2\nexit 1\n")
    found = asyncio.run(package_versions(SubprocessRunner({}), str(broken), "test"))
    assert found["python"]["value"] is None
    assert found["packages"]["vllm"]["reason"] == (f"{broken} exited with 1: Fatal Python error: init_fs_encoding")


def test_write_environment_writes_the_file_or_says_why_not(tmp_path: Path, no_device_tools: dict[str, str]) -> None:
    root = fake_ascend(tmp_path / "Ascend")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    assert asyncio.run(write_environment(run_dir, env=no_device_tools, ascend_root=root,
                                         stage_python=sys.executable)) is None
    assert '"value": "8.0.RC2"' in (run_dir / ENVIRONMENT_FILE).read_text()
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    problem = asyncio.run(write_environment(blocked, env=no_device_tools, ascend_root=root,
                                            stage_python=sys.executable))
    assert problem is not None and problem.startswith(f"could not write {blocked / ENVIRONMENT_FILE}")


def test_without_the_drivers_file_its_version_comes_from_npu_smi_and_says_so(tmp_path: Path,
                                                                            no_device_tools: dict[str, str]) -> None:
    snapshot = parse_saved_output(SNAPSHOT.read_text())
    data = capture(tmp_path / "no-ascend", no_device_tools, stage_python=sys.executable, snapshot=snapshot)
    assert data["driver"]["value"] == snapshot.driver_version == "24.1.0"
    assert data["driver"]["source"] == "the console's last device reading (Version:)"
    assert "does not exist" in data["driver"]["file_reason"]
