"""Known variable names and typo suggestions."""

from __future__ import annotations

import pytest

from tui.profile import load_profile, shipped_profiles_dir
from tui.server.known_env import KNOWN_ENV_VARS, is_known, near_miss


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("ASCEBD_RT_VISIBLE_DEVICES", "ASCEND_RT_VISIBLE_DEVICES"),  # vllm-ascend PR #5581
        ("ASCEND_RT_VISIBLE_DEVICE", "ASCEND_RT_VISIBLE_DEVICES"),  # PR #4399
        ("VLLM_ASCEND_ENBALE_FLASHCOMM1", "VLLM_ASCEND_ENABLE_FLASHCOMM1"),  # #7866
        ("HCL_OP_EXPANSION_MODE", "HCCL_OP_EXPANSION_MODE"),
        ("HCCL_BUFSIZE", "HCCL_BUFFSIZE"),
        ("VLLM_WORKER_MULTIPROCESS_METHOD", "VLLM_WORKER_MULTIPROC_METHOD"),
        ("PYTORCH_NPU_ALLOC_CONFIG", "PYTORCH_NPU_ALLOC_CONF"),
        ("OMP_NUM_THREAD", "OMP_NUM_THREADS"),
        ("vllm_use_modelscope", "VLLM_USE_MODELSCOPE"),  # case matters on Linux
        ("VLLM_MODEL_MEMORY_USE_GB", "vLLM_MODEL_MEMORY_USE_GB"),  # vLLM-MindSpore reads the lower-case v
        ("vLLM_MS_MODEL_BACKEND", "VLLM_MS_MODEL_BACKEND"),
    ],
)
def test_typos_point_at_the_intended_name(typed: str, meant: str) -> None:
    assert near_miss(typed) == meant


@pytest.mark.parametrize(
    "name",
    [
        "ASCEND_RT_VISIBLE_DEVICES",  # known
        "vLLM_MODEL_BACKEND",  # known, odd case and all
        "NPU_CONSOLE_SIM_HOME",  # the operator's own
        "MY_MODEL_DIR",
        "VLLM_ASCEND_ENABLE_FLASHCOMM2",  # a sibling of a known name, not a typo
        "VLLM_USE_V0",
        "VLLM_EP_SIZE",  # another abbreviation, not a slip
    ],
)
def test_known_and_custom_names_get_no_suggestion(name: str) -> None:
    assert near_miss(name) is None


def test_the_lists_hold_the_names_operators_set() -> None:
    for name in ("VLLM_USE_MODELSCOPE", "VLLM_LOG_STATS_INTERVAL", "VLLM_ASCEND_ENABLE_TOPK_OPTIMIZE",
                 "ASCEND_TOTAL_MEMORY_GB", "HCCL_INTRA_PCIE_ENABLE", "vLLM_MODEL_MEMORY_USE_GB",
                 "MINDFORMERS_MODEL_CONFIG", "HF_HUB_OFFLINE", "NO_PROXY", "TASK_QUEUE_ENABLE"):
        assert is_known(name), name
    assert all(name.strip() == name and " " not in name for name in KNOWN_ENV_VARS)


def test_shipped_profiles_use_no_misspelled_names() -> None:
    for path in sorted(shipped_profiles_dir().glob("*.toml")):
        profile = load_profile(path)
        for variant in (None, *profile.variants):
            for name in profile.effective_env(variant):
                assert near_miss(name) is None, f"{path.name}: {name}"


def test_a_custom_list_can_be_given() -> None:
    assert near_miss("MY_VARIABEL", ["MY_VARIABLE"]) == "MY_VARIABLE"
    assert near_miss("MY_VARIABLE", ["MY_VARIABLE"]) is None
