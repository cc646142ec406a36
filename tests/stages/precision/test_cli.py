"""`npu-console precision` as an operator runs it: a real process, the stage under it, the run folder."""

from __future__ import annotations

import asyncio
import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from tui.commands.precision import render_table
from tui.stages.runner import StageRun

CONTRACT_KEYS = {"model", "reference", "candidate", "verdict", "reasons", "summary", "prompts"}
SUMMARY_KEYS = {"top1_agreement", "top5_overlap", "cosine_min", "cosine_mean", "mse_mean", "max_abs_error",
                "mean_abs_error", "relative_error_mean", "kl_mean", "noise_floor_ratio"}
PROMPT_KEYS = {"prompt", "tokens", "top1_agreement", "top5_overlap", "cosine_min", "max_abs_error",
               "relative_error_mean", "kl_mean", "first_divergent_layer", "layers"}
EXTRA_KEYS = {"mode", "nan_inf", "thresholds", "csv", "noise_floor"}


def precision(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tui", "precision", *args], capture_output=True, text=True,
                          timeout=600)


def test_pass_writes_every_contract_key_and_exits_0(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "precision.json"
    done = precision("--model", str(tiny_model), "--device", "cpu", "--prompt", "The capital of France is",
                     "--prompt", "2 + 3 × 4 =", "--json", str(out), "--runs-dir", str(tmp_path / "runs"))
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert set(result) >= CONTRACT_KEYS | EXTRA_KEYS and result["verdict"] == "PASS"
    assert result["reference"]["device"] == "cpu" and result["reference"]["dtype"] == "float32"
    assert result["candidate"]["device"] == "cpu" and result["candidate"]["dtype"] == "bfloat16"
    assert SUMMARY_KEYS | {"top1_agreement_tie_aware"} <= set(result["summary"])
    for prompt in result["prompts"]:
        assert PROMPT_KEYS | {"top1_agreement_tie_aware", "verdict", "reasons"} <= set(prompt)
        assert all(set(layer) >= {"layer", "cosine", "relative_error"} for layer in prompt["layers"])
    assert set(result["thresholds"]) == {"top1_agreement_min", "top5_overlap_min", "cosine_min",
                                         "relative_error_max", "kl_max", "noise_floor_ratio_max"}
    assert "verdict: PASS" in done.stdout and "The capital of France is" in done.stdout
    (stage_folder,) = list((tmp_path / "runs" / "cli").glob("*/precision-*"))
    assert json.loads((stage_folder / "result.json").read_text()) == result
    assert result["csv"] == str(stage_folder / "precision_positions.csv")


def test_fail_exits_1_with_the_reasons(tiny_model: Path, perturbed_model: Path, tmp_path: Path) -> None:
    done = precision("--model", str(tiny_model), "--candidate-model", str(perturbed_model), "--device", "cpu",
                     "--prompt", "Hello, how are you", "--no-noise-floor", "--runs-dir", str(tmp_path / "runs"))
    assert done.returncode == 1
    assert "verdict: FAIL" in done.stdout and "hidden states first diverge at layer 2" in done.stdout
    assert done.stderr.strip().splitlines()[-1].startswith("npu-console precision: FAIL; the reasons above say")


def test_thresholds_reach_the_stage(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "strict.json"
    done = precision("--model", str(tiny_model), "--device", "cpu", "--prompt", "Hello", "--cosine-min", "0.9999999",
                     "--kl-max", "none", "--noise-floor-ratio-max", "0.5", "--json", str(out),
                     "--runs-dir", str(tmp_path / "runs"))
    assert done.returncode == 1
    result = json.loads(out.read_text())
    assert result["thresholds"]["cosine_min"] == 0.9999999 and result["thresholds"]["kl_max"] is None
    assert any(reason.startswith("minimum logits cosine") for reason in result["reasons"])
    assert any(reason.startswith("noise-floor ratio") and reason.endswith("is above 0.5")
               for reason in result["reasons"])


def test_bad_usage_exits_2_with_one_sentence(tmp_path: Path) -> None:
    missing = precision("--model", str(tmp_path / "nowhere"), "--runs-dir", str(tmp_path / "runs"))
    assert missing.returncode == 2
    assert f"npu-console precision: model folder {tmp_path / 'nowhere'} does not exist or is not a folder." \
        in missing.stderr
    nothing = precision("--runs-dir", str(tmp_path / "runs"))
    assert nothing.returncode == 2 and nothing.stderr.strip() == (
        "npu-console precision: say which model folder to check: --model DIR (or a --profile whose [model] has a path)")
    bad = precision("--model", str(tmp_path), "--top1-min", "lots", "--runs-dir", str(tmp_path / "runs"))
    assert bad.returncode == 2 and "--top1-min expects a number or 'none', got 'lots'" in bad.stderr


def test_the_stage_under_stagerun_leaves_csv_and_result_in_its_folder(tiny_model: Path, tmp_path: Path) -> None:
    stage = StageRun("precision", ["--model", str(tiny_model), "--device", "cpu", "--prompt", "Hello, how are you"],
                     run_dir=tmp_path / "run")
    outcome = asyncio.run(stage.run())
    assert outcome.ok, outcome.error
    folder = outcome.run_folder
    assert json.loads((folder / "result.json").read_text()) == dict(outcome.result or {})
    with open(folder / "precision_positions.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == (outcome.result or {})["prompts"][0]["tokens"]
    events = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
    assert {event["event"] for event in events} >= {"progress", "result"}


def test_table_marks_unmeasured_values_as_na() -> None:
    table = render_table({"prompts": [{"prompt": "中国的首都是", "tokens": 3, "top1_agreement": 1.0,
                                       "top5_overlap": None, "verdict": "PASS"}],
                          "summary": {}, "candidate": {"url": "http://x"}, "verdict": "PASS", "reasons": []})
    lines = table.splitlines()
    assert lines[2].startswith("中国的首都是" + " " * 20 + "    3  1.000") and "N/A" in lines[2]
    assert lines[-1] == "verdict: PASS"


def test_the_command_module_does_not_import_torch() -> None:
    code = ("import sys, tui.cli, tui.commands.precision as p; tui.cli.build_parser(); "
            "print('torch' in sys.modules, 'transformers' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False False", done.stderr


def test_a_profile_gives_model_device_prompts_and_thresholds(tiny_model: Path, tmp_path: Path) -> None:
    profile = tmp_path / "tiny.toml"
    profile.write_text(f'''
name = "tiny"
runtime = "vllm"

[model]
id = "tiny/qwen2"
source = "local"
path = "{tiny_model}"

[stages.precision]
device = "cpu"
dtype = "float32"
prompts = ["Hello, how are you"]

[stages.precision.thresholds]
cosine_min = 0.5
kl_max = 0.001
''', encoding="utf-8")
    out = tmp_path / "p.json"
    done = precision("--profile", str(profile), "--json", str(out), "--no-noise-floor",
                     "--runs-dir", str(tmp_path / "runs"))
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert result["model"] == str(tiny_model) and result["candidate"]["dtype"] == "float32"
    assert [p["prompt"] for p in result["prompts"]] == ["Hello, how are you"]
    assert result["thresholds"]["cosine_min"] == 0.5 and result["thresholds"]["kl_max"] == 0.001
    assert list((tmp_path / "runs" / "tiny").glob("*/precision-*"))
