"""Variable names, worker start method, npu-smi reachability and sourced files."""

from __future__ import annotations

from tui.devices.snapshot import DeviceSnapshot
from tui.server.environment import ResolvedEnv
from tui.server.preflight import (
    check_env_names,
    check_multiproc_method,
    check_npu_smi,
    check_sourced_files,
)
from tui.server.preflight.check import Check

CANN = {"ASCEND_HOME_PATH": "/usr/local/Ascend/ascend-toolkit/latest"}


def test_a_misspelled_name_fails_with_the_intended_one() -> None:
    check = check_env_names(["ASCEBD_RT_VISIBLE_DEVICES", "MY_OWN_SETTING", "VLLM_USE_MODELSCOPE"])
    assert check.status == "fail"
    assert check.detail == "ASCEBD_RT_VISIBLE_DEVICES looks like a typo of ASCEND_RT_VISIBLE_DEVICES"
    assert check.fix == "Rename ASCEBD_RT_VISIBLE_DEVICES to ASCEND_RT_VISIBLE_DEVICES in [environment.vars]."


def test_known_and_custom_names_pass() -> None:
    assert check_env_names(["ASCEND_RT_VISIBLE_DEVICES", "MY_OWN_SETTING"]).status == "pass"
    assert check_env_names([]).detail == "the profile sets no variables"


def test_spawn_is_recommended_on_ascend() -> None:
    unset = check_multiproc_method("vllm-ascend", {})
    assert unset.status == "warn" and unset.fix == "Set VLLM_WORKER_MULTIPROC_METHOD=spawn in [environment.vars]."
    assert check_multiproc_method("simulated", {"VLLM_WORKER_MULTIPROC_METHOD": "fork"}).status == "warn"
    assert check_multiproc_method("vllm-ascend", {"VLLM_WORKER_MULTIPROC_METHOD": "spawn"}).status == "pass"
    assert check_multiproc_method("vllm", {}).status == "pass"


def test_npu_smi_missing_or_broken_on_ascend() -> None:
    missing = check_npu_smi("vllm-ascend", False, None)
    assert missing.status == "warn" and missing.fix and "/usr/local/Ascend/driver/tools" in missing.fix
    broken = DeviceSnapshot(backend="npu-smi", error="dcmi module initialize failed. ret is -8005")
    assert "-8005" in check_npu_smi("vllm-ascend", True, broken).detail
    assert check_npu_smi("vllm", False, None).status == "pass"


def test_sourcing_problems_fail() -> None:
    resolved = ResolvedEnv(env=dict(CANN), problems=("/nowhere/set_env.sh does not exist, so it was not sourced",))
    check = check_sourced_files(resolved, ("/nowhere/set_env.sh",), "vllm-ascend")
    assert check.status == "fail" and "/nowhere/set_env.sh does not exist" in check.detail and check.fix


def test_cann_never_sourced_warns_on_cann_runtimes() -> None:
    check = check_sourced_files(ResolvedEnv(env={}), (), "vllm-ascend")
    assert check.status == "warn" and "ASCEND_HOME_PATH is not set" in check.detail
    assert check_sourced_files(ResolvedEnv(env={}), (), "simulated").status == "pass"
    ok = check_sourced_files(ResolvedEnv(env=dict(CANN), sourced=("/a/set_env.sh",)), ("/a/set_env.sh",),
                             "vllm-ascend")
    assert ok.status == "pass" and "/a/set_env.sh" in ok.detail


def test_every_warning_or_failure_must_say_what_to_do() -> None:
    try:
        Check("k", "t", "warn", "something is off")
    except ValueError as exc:
        assert "says nothing about what to do" in str(exc)
    else:
        raise AssertionError("a warning without a fix was accepted")
