"""The profile's `[stages.accuracy]`: validated, round-tripped, and turned into the stage's own options."""

from __future__ import annotations

import hashlib
import json

import pytest

from tui.profile.model import AccuracySettings, ProfileError
from tui.profile.store import dumps_profile, load_profile, loads_profile, shipped_profiles_dir
from tui.stages.accuracy.__main__ import build_parser
from tui.stages.accuracy.dataset import DATA_ROOT, few_shot_examples, load_test_split
from tui.stages.stage_args import accuracy_args

BASE = '[model]\nid = "Qwen/Qwen2-0.5B"\n'


def test_the_defaults_are_what_operators_report() -> None:
    settings = loads_profile(BASE).stages.accuracy
    assert settings == AccuracySettings()
    assert (settings.limit, settings.shots, settings.mode, settings.max_tokens, settings.grader) == (
        200, 4, "chat", 512, "aisbench")
    defaults = build_parser().parse_args(["--url", "http://x"])
    assert (defaults.limit, defaults.shots, defaults.mode, defaults.max_tokens, defaults.grader,
            defaults.temperature, defaults.concurrency) == (200, 4, "chat", 512, "aisbench", 0.0, 8)


def test_settings_become_the_stage_options_and_survive_a_round_trip() -> None:
    profile = loads_profile(BASE + '[stages.accuracy]\nmode = "completion"\nlimit = 50\nshots = 0\ngrader = "boxed"\n'
                                   'max_tokens = 1024\ntemperature = 0.6\ntop_p = 0.95\nconcurrency = 2\n')
    args = build_parser().parse_args(accuracy_args(profile.stages.accuracy, "http://h:8000", model="m",
                                                   api_key_env="KEY"))
    assert (args.url, args.model, args.api_key_env, args.mode, args.limit, args.shots, args.grader) == (
        "http://h:8000", "m", "KEY", "completion", 50, 0, "boxed")
    assert (args.max_tokens, args.temperature, args.top_p, args.concurrency) == (1024, 0.6, 0.95, 2)
    assert loads_profile(dumps_profile(profile)).stages.accuracy == profile.stages.accuracy


@pytest.mark.parametrize(("line", "word"), [('grader = "regex"', "grader"), ("shots = 17", "shots"),
                                            ("limit = 0", "limit"), ('dataset = "math"', "dataset"),
                                            ("limt = 5", "limt")])
def test_a_wrong_setting_names_its_key(line: str, word: str) -> None:
    with pytest.raises(ProfileError) as caught:
        loads_profile(BASE + "[stages.accuracy]\n" + line + "\n")
    assert f"stages.accuracy.{word}" in str(caught.value)


def test_shipped_profiles_run_base_models_in_completion_form() -> None:
    folder = shipped_profiles_dir()
    modes = {path.stem: load_profile(path).stages.accuracy for path in folder.glob("*.toml")}
    assert modes["qwen2-0.5b-base-ascend"].mode == "completion" and modes["qwen3.5-2b-base-ascend"].mode == "completion"
    assert modes["qwen2.5-coder-0.5b-ascend"].mode == "chat" and modes["qwen2.5-coder-0.5b-ascend"].limit == 200
    assert modes["qwen3-4b-thinking-2507-fp8-ascend"].max_tokens > 512


def test_the_shipped_data_is_the_published_split_with_its_licence() -> None:
    folder = DATA_ROOT / "gsm8k"
    digest = hashlib.sha256((folder / "test.jsonl").read_bytes()).hexdigest()
    assert digest == "3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14"
    assert "MIT License" in (folder / "LICENSE").read_text()
    problems = load_test_split("gsm8k", None)
    assert len(problems) == 1319 and problems[0].reference == "18"
    assert all(json.loads(line) for line in (folder / "train-first16.jsonl").read_text().splitlines())
    examples = few_shot_examples("gsm8k", 16)
    assert len(examples) == 16 and all("<<" not in example.reasoning for example in examples)
