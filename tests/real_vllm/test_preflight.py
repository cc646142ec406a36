"""Preflight against the real engine: the flag list comes from vLLM 0.32's own serve parser."""

from __future__ import annotations

import os
from pathlib import Path

from tests.real_vllm import engine
from tests.server.preflight.conftest import make_profile
from tui.profile import ModelSpec
from tui.server.engine_flags import engine_flags
from tui.server.launch_plan import launch_plan
from tui.server.preflight.flags import check_flags, check_max_model_len


def test_a_misspelled_flag_is_caught_against_the_installed_vllm(tiny_qwen2: Path) -> None:
    env = engine.engine_env()
    profile = make_profile(runtime="vllm-cpu", model=ModelSpec(id="tiny", source="local", path=str(tiny_qwen2)),
                           flags={"enforce-eagre": True, "max-model-len": 512})
    argv = list(launch_plan(profile, env=env).argv)
    check = check_flags(profile, env, argv)
    assert check.status == "fail", check.detail
    assert "vLLM 0.32.0 does not accept --enforce-eagre (did you mean --enforce-eager?)" in check.detail
    again = engine_flags(profile.server.command, env, profile.runtime)
    assert again.cached and again.accepts("--enforce-eager") and again.accepts("--max_model_len")
    assert again.interpreter is not None and Path(again.interpreter).parent == engine.venv() / "bin"


def test_max_model_len_above_the_tiny_models_limit_fails(tiny_qwen2: Path) -> None:
    profile = make_profile(runtime="vllm-cpu", model=ModelSpec(id="tiny", source="local", path=str(tiny_qwen2)),
                           flags={"max-model-len": 4096})
    check = check_max_model_len(profile, dict(os.environ), list(launch_plan(profile).argv))
    assert check.status == "fail"
    assert "--max-model-len 4096 is above the model's limit of 1024" in check.detail
