"""The demo host folder, the model facts and the start-up plan derived from them."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.sim.harness import run_tool
from tui.sim.demo import DemoHost, prepare_demo_host
from tui.sim.engine_plan import EnginePlan, PlanError, build_plan
from tui.sim.host import read_host
from tui.sim.model_config import load_model_facts
from tui.sim.serve_args import non_default_args, parse_serve_args


def test_prepare_is_idempotent_and_complete(tmp_path: Path) -> None:
    demo = prepare_demo_host(tmp_path / "sim")
    before = {p: p.stat().st_mtime_ns for p in demo.home.rglob("*") if p.is_file()}
    again = prepare_demo_host(tmp_path / "sim")
    assert again == demo
    assert {p: p.stat().st_mtime_ns for p in demo.home.rglob("*") if p.is_file()} == before
    for shim in ("npu-smi", "vllm"):
        path = demo.bin_dir / shim
        assert path.read_text().startswith("#!/bin/sh\n") and path.stat().st_mode & stat.S_IXUSR
    spec = read_host(demo.home)
    assert [c.name for c in spec.chips] == ["910B3"] * 8
    assert spec.chips[0].bus_id == "0000:C1:00.0" and spec.chips[0].hbm_total_mb == 65536


def test_env_puts_the_shims_first_and_names_the_home(demo: DemoHost) -> None:
    env = demo.env({"PATH": "/usr/bin:/bin", "HOME": "/root"})
    assert env["PATH"].split(os.pathsep)[0] == str(demo.bin_dir)
    assert env["NPU_CONSOLE_SIM_HOME"] == str(demo.home) and env["HOME"] == "/root"
    assert demo.env(env)["PATH"].count(str(demo.bin_dir)) == 1


def test_shims_work_from_any_directory_without_an_install(demo: DemoHost, tmp_path: Path) -> None:
    result = run_tool(demo, "vllm", "--version", env={"PYTHONPATH": ""})
    assert result.returncode == 0 and result.stdout.strip() == "0.18.0"


def test_demo_models_carry_the_real_qwen_values(demo: DemoHost) -> None:
    small = json.loads((demo.model_dir("Qwen2.5-0.5B-Instruct") / "config.json").read_text())
    assert (small["architectures"], small["hidden_size"], small["num_hidden_layers"]) == (
        ["Qwen2ForCausalLM"],
        896,
        24,
    )
    assert (small["max_position_embeddings"], small["vocab_size"], small["torch_dtype"]) == (
        32768,
        151936,
        "bfloat16",
    )
    thinking = load_model_facts(str(demo.model_dir("Qwen3-4B-Thinking-2507")))
    assert thinking.architecture == "Qwen3ForCausalLM" and thinking.max_position_embeddings == 262144
    assert thinking.is_thinking
    for name in ("generation_config.json", "tokenizer_config.json"):
        assert json.loads((demo.model_dir("Qwen3-4B-Thinking-2507") / name).read_text())
    with pytest.raises(KeyError):
        demo.model_dir("Llama-405B")


def plan_for(demo: DemoHost, model: str, *flags: str, env: dict[str, str] | None = None) -> EnginePlan:
    args = parse_serve_args([str(demo.model_dir(model)), *flags])
    return build_plan(args, load_model_facts(args.model), env or {})


def test_plan_numbers_land_near_a_real_910b(demo: DemoHost) -> None:
    plan = plan_for(demo, "Qwen2.5-0.5B-Instruct")
    assert 0.9 < plan.weights_gib < 0.95  # real: 0.93 GB
    assert 4_000_000 < plan.kv_cache_tokens < 4_900_000  # real: ~4.4 M tokens at 0.9
    assert plan.compilation == "PIECEWISE" and plan.graph_max_batch_sizes == 72  # 1800 // (24 + 1)
    assert len(plan.capture_sizes) == 35 and plan.chips == (0,)
    assert 55_000 < plan.held_hbm_mb + 3314 < 65536
    thinking = plan_for(demo, "Qwen3-4B-Thinking-2507", "--max-model-len", "32k")
    assert thinking.max_model_len == 32000 and thinking.graph_max_batch_sizes == 48 and thinking.thinking
    assert 7.3 < thinking.weights_gib < 7.7


def test_plan_modes_and_chip_choice(demo: DemoHost) -> None:
    assert plan_for(demo, "Qwen2.5-0.5B-Instruct", "--enforce-eager").compilation == "eager"
    full = plan_for(demo, "Qwen2.5-0.5B-Instruct", "--compilation-config", '{"cudagraph_mode": "FULL_DECODE_ONLY"}')
    assert full.compilation == "FULL_DECODE_ONLY"
    tp = plan_for(demo, "Qwen2.5-0.5B-Instruct", "-tp", "2", env={"ASCEND_RT_VISIBLE_DEVICES": "4,5,6"})
    assert tp.chips == (4, 5) and tp.device_error is None
    bad = plan_for(demo, "Qwen2.5-0.5B-Instruct", env={"ASCEND_RT_VISIBLE_DEVICES": "9"})
    assert bad.device_error is not None and "valid device range is [0, 0)" in bad.device_error
    starved = plan_for(demo, "Qwen3-4B-Thinking-2507", "--gpu-memory-utilization", "0.4")
    assert starved.kv_error is not None and "To serve at least one request" in starved.kv_error


def test_too_long_max_model_len_is_refused_unless_allowed(demo: DemoHost) -> None:
    with pytest.raises(PlanError, match=r"User-specified max_model_len \(65536\) is greater than"):
        plan_for(demo, "Qwen2.5-0.5B-Instruct", "--max-model-len", "65536")
    allowed = plan_for(
        demo, "Qwen2.5-0.5B-Instruct", "--max-model-len", "65536", env={"VLLM_ALLOW_LONG_MAX_MODEL_LEN": "1"}
    )
    assert allowed.max_model_len == 65536


def test_non_default_args_keep_vllm_order(demo: DemoHost) -> None:
    model = str(demo.model_dir())
    args = parse_serve_args([model, "--max_model_len", "16384", "--dtype", "bfloat16", "--port", "9000"])
    assert list(non_default_args(args)) == ["model_tag", "port", "model", "dtype", "max_model_len"]
