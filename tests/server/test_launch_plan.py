"""Launch plans from the shipped profiles: the argv a server would get, exactly."""

from __future__ import annotations

import shlex
import subprocess

import pytest

from tui.profile import ProfileError, load_profile, loads_profile, shipped_profiles_dir
from tui.server.launch_plan import flag_arguments, launch_plan


def shipped(name: str):  # type: ignore[no-untyped-def]
    return load_profile(shipped_profiles_dir() / f"{name}.toml")


def test_coder_profile_argv_per_variant() -> None:
    profile = shipped("qwen2.5-coder-0.5b-ascend")
    dummy = launch_plan(profile, "dummy", env={})
    assert dummy.argv[:3] == ("vllm", "serve", "Qwen/Qwen2.5-Coder-0.5B-Instruct")
    args = dummy.argv[3:]
    for flag, value in [("--dtype", "bfloat16"), ("--tensor-parallel-size", "1"),
                        ("--max-model-len", "32768"), ("--max-num-seqs", "16"), ("--port", "8000"),
                        ("--load-format", "dummy")]:
        assert args[args.index(flag) + 1] == value
    assert "--enforce-eager" in args
    graph = launch_plan(profile, "graph", env={})
    assert "--enforce-eager" not in graph.argv
    assert "--load-format" not in graph.argv
    assert dummy.env["VLLM_USE_MODELSCOPE"] == "True"
    assert dummy.env["ASCEND_RT_VISIBLE_DEVICES"] == "0"


def test_fp8_profile_passes_json_flags_verbatim() -> None:
    plan = launch_plan(shipped("qwen3-4b-thinking-2507-fp8-ascend"), env={})
    args = list(plan.argv)
    compilation = args[args.index("--compilation-config") + 1]
    assert compilation.replace(" ", "") == '{"cudagraph_mode":"FULL_DECODE_ONLY"}'
    assert args[args.index("--served-model-name") + 1] == "qwen3-4b-thinking-2507-fp8"


def test_mindspore_legacy_variant_passes_the_model_with_its_flag() -> None:
    plan = launch_plan(shipped("qwen2.5-7b-mindspore"), "legacy", env={})
    assert plan.argv[:5] == ("python3", "-m", "vllm_mindspore.entrypoints",
                             "vllm.entrypoints.openai.api_server", "--model")
    assert plan.env["vLLM_MODEL_BACKEND"] == "MindFormers"
    current = launch_plan(shipped("qwen2.5-7b-mindspore"), env={})
    assert current.argv[:3] == ("vllm-mindspore", "serve", "/root/models/Qwen2.5-7B-Instruct")
    assert current.env["VLLM_MS_MODEL_BACKEND"] == "MindFormers"


def test_model_path_and_env_values_expand_against_the_given_env() -> None:
    plan = launch_plan(shipped("demo"), env={"NPU_CONSOLE_SIM_HOME": "/srv/sim"})
    assert "/srv/sim/models/Qwen2.5-0.5B-Instruct" in plan.argv


def test_shell_script_round_trips_through_a_real_shell() -> None:
    """What the operator copies runs the same argv: the shell reads back exactly our list."""
    profile = loads_profile(
        'name = "t"\n[model]\nid = "m o/d\'el"\nsource = "huggingface"\n'
        '[server]\ncommand = ["printf", "%s\\\\n"]\n'
        '[server.flags]\nchat-template = "{{ x }} $HOME `id`"\nenable-prefix-caching = true\n'
        'additional-config = { enable_cpu_binding = true }\n'
        '[environment.vars]\nMY_VAR = "a b"\n'
    )
    plan = launch_plan(profile, env={})
    script = plan.shell_script()
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=10, check=True)
    assert out.stdout.splitlines() == list(plan.argv[2:])
    assert 'export MY_VAR=' in script and shlex.quote("a b") in script


def test_flag_arguments_forms() -> None:
    assert flag_arguments({"a": True, "b": False, "c": [1, "x"], "d": 0.9, "e": {"k": [1]}}) == [
        "--a", "--c", "1", "x", "--d", "0.9", "--e", '{"k":[1]}',
    ]


def test_unknown_variant_is_a_profile_error() -> None:
    with pytest.raises(ProfileError) as caught:
        launch_plan(shipped("demo"), "turbo", env={})
    assert "turbo" in str(caught.value)
