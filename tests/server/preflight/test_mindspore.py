"""vLLM-MindSpore's variables against what the installed release reads (its own source, scanned)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tui.profile import load_profile, shipped_profiles_dir
from tui.server.launch_plan import launch_plan
from tui.server.preflight.mindspore import check_mindspore_env, installed_mindspore, scan_package

NEW_ENVS = '''
environment_variables = {
    "VLLM_MS_MODEL_BACKEND": lambda: os.getenv("VLLM_MS_MODEL_BACKEND"),
}
if os.getenv("MINDFORMERS_MODEL_CONFIG"): raise ValueError("MINDFORMERS_MODEL_CONFIG is no longer supported")
if os.getenv("vLLM_MODEL_BACKEND"): logger.warning("vLLM_MODEL_BACKEND is deprecated")
'''
OLD_ENVS = '''
backend = os.getenv("vLLM_MODEL_BACKEND")
config = os.getenv("MINDFORMERS_MODEL_CONFIG")
total = os.getenv("ASCEND_TOTAL_MEMORY_GB"); use = os.getenv("vLLM_MODEL_MEMORY_USE_GB")
'''


def package(tmp_path: Path, source: str) -> Path:
    folder = tmp_path / "site" / "vllm_mindspore"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("raise ImportError('MindSpore is not importable here, and need not be')\n")
    (folder / "envs.py").write_text(source)
    return folder


def test_a_current_release_refuses_the_legacy_variables(tmp_path: Path) -> None:
    installed = scan_package(package(tmp_path, NEW_ENVS), "0.5.0")
    assert installed.new_style and installed.rejects_mf_config
    legacy = {"vLLM_MODEL_BACKEND": "MindFormers", "MINDFORMERS_MODEL_CONFIG": "/x.yaml",
              "ASCEND_TOTAL_MEMORY_GB": "64"}
    check = check_mindspore_env(legacy, installed)
    assert check.status == "fail"
    assert "vllm-mindspore 0.5.0 rejects MINDFORMERS_MODEL_CONFIG with a ValueError" in check.detail
    assert "VLLM_MS_MODEL_BACKEND; vLLM_MODEL_BACKEND still works but is deprecated" in check.detail
    assert "no longer reads ASCEND_TOTAL_MEMORY_GB" in check.detail
    assert check_mindspore_env({"VLLM_MS_MODEL_BACKEND": "MindFormers"}, installed).status == "pass"


def test_an_old_release_ignores_the_new_name(tmp_path: Path) -> None:
    installed = scan_package(package(tmp_path, OLD_ENVS), "0.4.0")
    assert not installed.new_style
    check = check_mindspore_env({"VLLM_MS_MODEL_BACKEND": "MindFormers"}, installed)
    assert check.status == "warn" and "reads vLLM_MODEL_BACKEND, not VLLM_MS_MODEL_BACKEND" in check.detail
    legacy = {"vLLM_MODEL_BACKEND": "MindFormers", "MINDFORMERS_MODEL_CONFIG": "/x.yaml"}
    assert check_mindspore_env(legacy, installed).status == "pass"


def test_the_serving_interpreter_finds_the_package_without_importing_it(tmp_path: Path) -> None:
    package(tmp_path, NEW_ENVS)
    env = {"PATH": str(Path(sys.executable).parent), "PYTHONPATH": str(tmp_path / "site")}
    installed = installed_mindspore((Path(sys.executable).name, "-m", "vllm_mindspore"), env)
    assert not isinstance(installed, str) and installed.new_style
    missing = installed_mindspore((Path(sys.executable).name,), {"PATH": env["PATH"]})
    assert isinstance(missing, str) and "vllm_mindspore is not installed" in missing
    assert check_mindspore_env({}, missing).status == "warn"


CURRENT = ["vllm-mindspore", "serve", "/root/models/Qwen2.5-7B-Instruct"]
LEGACY = ["python3", "-m", "vllm_mindspore.entrypoints", "vllm.entrypoints.openai.api_server", "--model"]


@pytest.mark.parametrize(("variant", "entry"), [("current", CURRENT), ("legacy", LEGACY)])
def test_the_shipped_profile_offers_both_entry_points(variant: str, entry: list[str]) -> None:
    profile = load_profile(shipped_profiles_dir() / "qwen2.5-7b-mindspore.toml")
    plan = launch_plan(profile, variant, env={})
    assert list(plan.argv[: len(entry)]) == entry
    if variant == "legacy":
        assert plan.env["vLLM_MODEL_BACKEND"] == "MindFormers" and "MINDFORMERS_MODEL_CONFIG" in plan.env
    else:
        assert "MINDFORMERS_MODEL_CONFIG" not in plan.env
