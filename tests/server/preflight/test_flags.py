"""Engine flags, context length and the CPU build's settings, checked before a launch.

The flag list comes from a real subprocess: an interpreter found through a console script's `#!`
line, importing a package laid out like vLLM's (`vllm.entrypoints.cli.serve.ServeSubcommand` building
an argparse parser). The same check against the real vLLM CPU build is in tests/real_vllm.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from tests.server.preflight.conftest import idle_host, make_profile
from tui.profile import ModelSpec
from tui.server.engine_flags import engine_flags, serving_interpreter
from tui.server.launch_plan import launch_plan
from tui.server.preflight.cpu import check_cpu_engine
from tui.server.preflight.devices import check_visible_devices, device_use
from tui.server.preflight.flags import check_flags, check_max_model_len, model_context_limit

SERVE = """
import argparse, time, os
class ServeSubcommand:
    def subparser_init(self, subparsers):
        if os.environ.get("FAKE_ENGINE_HANG"):
            time.sleep(60)
        parser = subparsers.add_parser("serve")
        parser.add_argument("model_tag", nargs="?")
        for name in ("--host", "--port", "--served-model-name", "--dtype", "--max-model-len",
                     "--tensor-parallel-size", "--max-num-seqs", "--load-format"):
            parser.add_argument(name)
        parser.add_argument("--enforce-eager", action=argparse.BooleanOptionalAction)
        return parser
"""


@pytest.fixture
def engine_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A `vllm` console script whose interpreter imports a vllm package with a serve parser.

    Every test here shares this test run's interpreter, so each gets a cache of its own.
    """
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    package = tmp_path / "site" / "vllm"
    (package / "utils").mkdir(parents=True)
    (package / "entrypoints" / "cli").mkdir(parents=True)
    (package / "__init__.py").write_text("__version__ = '0.32.0'\n")
    (package / "utils" / "__init__.py").write_text("")
    (package / "utils" / "argparse_utils.py").write_text(
        "from argparse import ArgumentParser as FlexibleArgumentParser\n")
    (package / "entrypoints" / "__init__.py").write_text("")
    (package / "entrypoints" / "cli" / "__init__.py").write_text("")
    (package / "entrypoints" / "cli" / "serve.py").write_text(textwrap.dedent(SERVE))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "vllm"
    script.write_text(f"#!{sys.executable}\nimport sys\nsys.exit(0)\n")
    script.chmod(0o755)
    return {"PATH": str(bin_dir), "PYTHONPATH": str(tmp_path / "site")}


def plan_argv(profile_flags: dict[str, object]) -> tuple[list[str], object]:
    profile = make_profile(runtime="vllm", flags=profile_flags)  # type: ignore[arg-type]
    return list(launch_plan(profile).argv), profile


def test_the_interpreter_is_read_from_the_console_scripts_first_line(engine_path: dict[str, str]) -> None:
    assert serving_interpreter(["vllm", "serve"], engine_path) == sys.executable
    assert serving_interpreter([sys.executable, "-m", "vllm"], engine_path) == sys.executable
    assert serving_interpreter(["no-such-engine"], engine_path) is None


def test_a_misspelled_flag_fails_with_the_flag_it_probably_meant(engine_path: dict[str, str]) -> None:
    argv, profile = plan_argv({"enforce-eagre": True, "dtype": "bfloat16"})
    check = check_flags(profile, engine_path, argv)  # type: ignore[arg-type]
    assert check.status == "fail"
    assert "--enforce-eagre (did you mean --enforce-eager?)" in check.detail
    assert "vLLM 0.32.0" in check.detail
    assert check.fix == "Rename enforce-eagre to enforce-eager in [server.flags]."


def test_known_flags_pass_and_the_answer_is_cached_per_interpreter(engine_path: dict[str, str]) -> None:
    argv, profile = plan_argv({"max_model_len": 512, "enforce-eager": False, "tensor-parallel-size": 1})
    first = check_flags(profile, engine_path, argv)  # type: ignore[arg-type]
    assert first.status == "pass", first.detail
    # The package is gone, yet the same interpreter's answer comes back from the cache.
    without_engine = {"PATH": engine_path["PATH"]}
    again = engine_flags(["vllm", "serve"], without_engine, "vllm")
    assert again.cached and again.accepts("--max_model_len") and again.accepts("--no-enforce-eager")


def test_an_engine_that_cannot_list_its_flags_is_a_warning_that_says_why(engine_path: dict[str, str]) -> None:
    argv, profile = plan_argv({"dtype": "bfloat16"})
    broken = {"PATH": engine_path["PATH"], "PYTHONPATH": "/nonexistent"}
    check = check_flags(profile, broken, argv)  # type: ignore[arg-type]
    assert check.status == "warn"
    assert "could not be built" in check.detail and "ModuleNotFoundError" in check.detail
    hung = engine_flags(["vllm", "serve"], {**engine_path, "FAKE_ENGINE_HANG": "1"}, "vllm", timeout_s=1)
    assert hung.problem == "the engine did not list its flags within 1 s"
    missing = check_flags(profile, {"PATH": "/nonexistent"}, argv)  # type: ignore[arg-type]
    assert missing.status == "warn" and "was not found on the server's PATH" in (missing.detail or "")


def test_the_simulated_runtime_is_not_asked() -> None:
    profile = make_profile(runtime="simulated", flags={"whatever": True})
    assert check_flags(profile, {}, list(launch_plan(profile).argv)).status == "pass"


def model_folder(tmp_path: Path, config: dict[str, object]) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.mark.parametrize(("asked", "status"), [("512", "pass"), ("4096", "fail"), ("1k", "fail"), ("0.5k", "pass")])
def test_max_model_len_above_the_models_limit_fails_with_both_numbers(tmp_path: Path, asked: str, status: str) -> None:
    folder = model_folder(tmp_path, {"max_position_embeddings": 512})
    profile = make_profile(model=ModelSpec(id="m", source="local", path=str(folder)), flags={"max-model-len": asked})
    check = check_max_model_len(profile, {}, list(launch_plan(profile).argv))
    assert check.status == status
    if status == "fail":
        assert "above the model's limit of 512 (max_position_embeddings in config.json)" in check.detail
        assert check.fix == "Set max-model-len to 512 or less in [server.flags]."


def test_the_limit_honours_rope_scaling_and_nested_text_configs(tmp_path: Path) -> None:
    scaled = model_folder(tmp_path, {"text_config": {"max_position_embeddings": 32768,
                                                     "rope_scaling": {"type": "yarn", "factor": 4.0}}})
    assert model_context_limit(scaled) == (131072, "max_position_embeddings × rope_scaling.factor")


def test_the_cpu_build_needs_its_target_and_a_bounded_kv_cache() -> None:
    assert check_cpu_engine({}).status == "fail"
    assert "Failed to infer device type" in check_cpu_engine({}).detail
    unbounded = check_cpu_engine({"VLLM_TARGET_DEVICE": "cpu"})
    assert unbounded.status == "warn" and "OOM" in unbounded.detail
    assert check_cpu_engine({"VLLM_TARGET_DEVICE": "cpu", "VLLM_CPU_KVCACHE_SPACE": "100000"}).status == "fail"
    assert check_cpu_engine({"VLLM_TARGET_DEVICE": "cpu", "VLLM_CPU_KVCACHE_SPACE": "1"}).status == "pass"


def test_a_gpu_runtime_is_told_about_its_own_tool() -> None:
    use = device_use({}, ["vllm", "serve", "m"], idle_host(4), "vllm")
    check = check_visible_devices(use)
    assert check.status == "warn"
    assert "nvidia-smi -L" in (check.fix or "") and "npu-smi" not in (check.fix or "")
