"""The one visible-devices rule: the runtime's own variable, read from the expanded environment."""

from __future__ import annotations

from tui.devices.visible_devices import parse_visible_devices, visible_devices, visible_variable
from tui.profile import expand_env


def test_each_runtime_reads_its_own_variable() -> None:
    env = {"ASCEND_RT_VISIBLE_DEVICES": "4,5", "CUDA_VISIBLE_DEVICES": "1"}
    assert visible_variable("vllm") == "CUDA_VISIBLE_DEVICES"
    assert visible_devices(env, "vllm") == (1,)
    for runtime in ("vllm-ascend", "vllm-mindspore", "simulated"):
        assert visible_variable(runtime) == "ASCEND_RT_VISIBLE_DEVICES"
        assert visible_devices(env, runtime) == (4, 5)


def test_unset_is_none_and_unreadable_is_none() -> None:
    assert visible_devices({"CUDA_VISIBLE_DEVICES": "0"}, "vllm-ascend") is None, "not the other runtime's variable"
    assert visible_devices({"ASCEND_RT_VISIBLE_DEVICES": "0,x"}, "vllm-ascend") is None
    assert parse_visible_devices(" 0, 1,1 ") == (0, 1, 1)


def test_a_profile_variable_is_read_after_expansion() -> None:
    written = {"ASCEND_RT_VISIBLE_DEVICES": "${CHIPS}"}
    assert visible_devices(written, "vllm-ascend") is None, "as written it names no chip"
    inherited = {"CHIPS": "2,3"}
    assert visible_devices({**inherited, **expand_env(written, inherited)}, "vllm-ascend") == (2, 3)
