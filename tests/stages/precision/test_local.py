"""Local mode on a tiny real model, in-process: identical sides, bf16 on the CPU, a broken layer, a NaN."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from tests.stages.precision.conftest import LAYERS
from tui.profile.model import DEFAULT_PRECISION_PROMPTS
from tui.stages.precision.__main__ import main, parse_prompts_text, read_prompts
from tui.stages.precision.loading import (
    PrecisionInputError,
    mem_available_bytes,
    memory_shortfall,
    parameter_count,
)

SHORT_PROMPTS = ["The capital of France is", "def hello(name):\n    return", "中国的首都是"]


def run_stage(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any], list[Any]]:
    out = tmp_path / "result.json"
    argv = [*args, "--json", str(out), "--csv", str(tmp_path / "positions.csv")]
    for prompt in SHORT_PROMPTS:
        argv += ["--prompt", prompt]
    code = main(argv)
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    return code, (json.loads(out.read_text()) if out.exists() else {}), events


def test_fp32_against_fp32_is_exact_and_passes(tiny_model: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, result, events = run_stage(tmp_path, capsys, "--model", str(tiny_model), "--device", "cpu",
                                     "--dtype", "float32")
    assert code == 0 and result["verdict"] == "PASS" and result["reasons"] == []
    summary = result["summary"]
    assert summary["top1_agreement"] == 1.0 and summary["top5_overlap"] == 1.0
    assert summary["cosine_min"] == 1.0 and summary["cosine_mean"] == 1.0
    assert summary["mse_mean"] == 0.0 and summary["max_abs_error"] == 0.0 and summary["kl_mean"] == 0.0
    assert summary["relative_error_mean"] == 0.0
    assert summary["noise_floor_ratio"] == 0.0  # zero error over the CPU bf16 run's non-zero error
    assert result["noise_floor"]["dtype"] == "bfloat16" and result["noise_floor"]["error"] > 0
    assert result["candidate"] == {"device": "cpu", "dtype": "float32", "model": str(tiny_model)}
    provenance = result["provenance"]
    assert provenance["reference_fingerprint"] == provenance["candidate_fingerprint"] is not None
    assert provenance["versions"]["torch"] and provenance["versions"]["transformers"]
    for prompt in result["prompts"]:
        assert [entry["layer"] for entry in prompt["layers"]] == list(range(LAYERS))
        assert all(entry["cosine"] == 1.0 and entry["relative_error"] == 0.0 for entry in prompt["layers"])
        assert prompt["first_divergent_layer"] is None and prompt["verdict"] == "PASS"
    assert [p["prompt"] for p in result["prompts"]] == SHORT_PROMPTS  # the newline survived
    progress = [e for e in events if e["event"] == "progress"]
    assert progress[-1]["done"] == progress[-1]["total"] == 4 * len(SHORT_PROMPTS)
    assert all(e["unit"] == "prompt" for e in progress)
    assert [e["data"] for e in events if e["event"] == "result"] == [result]


def test_fp32_against_cpu_bf16_has_small_errors_and_passes(tiny_model: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, result, _ = run_stage(tmp_path, capsys, "--model", str(tiny_model), "--device", "cpu")
    assert code == 0 and result["verdict"] == "PASS", result["reasons"]
    summary = result["summary"]
    assert 0.0 < summary["max_abs_error"] < 0.2 and 0.0 < summary["mse_mean"] < 1e-3
    assert 0.999 < summary["cosine_min"] < 1.0 and 0.0 < summary["kl_mean"] < 1e-3
    # the contract's relative error is the relative L2; msit's elementwise one is reported beside it
    assert 0.0 < summary["relative_error_mean"] < 0.05 < summary["msit_relative_error_mean"]
    assert summary["top1_agreement_tie_aware"] >= summary["top1_agreement"] >= 0.9
    assert result["noise_floor"]["reused_candidate"] is True and summary["noise_floor_ratio"] == 1.0
    assert result["nan_inf"] == 0
    layers = result["prompts"][0]["layers"]
    assert all(0.99 < entry["cosine"] < 1.0 and entry["relative_error"] > 0 for entry in layers)
    with open(tmp_path / "positions.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == sum(p["tokens"] for p in result["prompts"])
    assert rows[0]["golden_dtype"] == "float32" and rows[0]["my_dtype"] == "bfloat16"
    assert {row["prompt"] for row in rows} == set(SHORT_PROMPTS)  # newlines survive CSV quoting
    assert all(row["passed"] in ("true", "false") for row in rows)


def test_a_perturbed_layer_fails_and_is_named(tiny_model: Path, perturbed_model: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, result, _ = run_stage(tmp_path, capsys, "--model", str(tiny_model), "--candidate-model",
                                str(perturbed_model), "--device", "cpu", "--dtype", "float32")
    assert code == 1 and result["verdict"] == "FAIL"
    assert all(prompt["first_divergent_layer"] == 2 for prompt in result["prompts"])
    assert all(prompt["layers"][1]["cosine"] == 1.0 for prompt in result["prompts"])  # layers before 2 are exact
    assert any(reason.startswith("hidden states first diverge at layer 2 (prompts 1, 2, 3") for reason in
               result["reasons"])
    assert result["summary"]["noise_floor_ratio"] > 2.0
    assert result["noise_floor"]["reused_candidate"] is False


def test_nan_on_the_candidate_is_flagged(tiny_model: Path, nan_model: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    code, result, _ = run_stage(tmp_path, capsys, "--model", str(tiny_model), "--candidate-model", str(nan_model),
                                "--device", "cpu", "--dtype", "float32", "--no-noise-floor")
    assert code == 1 and result["verdict"] == "FAIL" and result["nan_inf"] > 0
    assert f"the candidate produced {result['nan_inf']} NaN/Inf values" in result["reasons"]
    assert result["summary"]["cosine_min"] is None  # NaN is written as null, never as a number
    assert result["prompts"][0]["first_divergent_layer"] == 1 and result["noise_floor"] is None
    json.dumps(result, allow_nan=False)  # no NaN or Infinity anywhere in the numbers


def test_bad_input_exits_2_with_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--model", str(tmp_path / "missing"), "--device", "cpu"]) == 2
    errors = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert errors == [{"event": "error", "message": f"model folder {tmp_path / 'missing'} does not exist or is "
                                                    "not a folder."}]
    fp8 = tmp_path / "fp8"
    fp8.mkdir()
    (fp8 / "config.json").write_text(json.dumps({"quantization_config": {"quant_method": "fp8"}}))
    assert main(["--model", str(fp8)]) == 2
    assert "dequantize it first (npu-console dequant" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exited:
        main(["--model", str(fp8), "--device", "tpu"])
    assert exited.value.code == 2
    assert "bad usage: argument --device" in capsys.readouterr().out


def test_memory_check_says_what_to_do(tiny_model: Path) -> None:
    elements = parameter_count(tiny_model)
    assert elements > 100_000
    assert memory_shortfall(tiny_model, available=10**12) is None
    sentence = memory_shortfall(tiny_model, available=100_000)
    assert sentence is not None and sentence.startswith(f"the float32 reference of {tiny_model.name} (")
    assert "of RAM but only 0.0 GB is available; free memory (stop the server or other jobs), run the check on a " \
           "host with more RAM, or compare a smaller model of the same family" in sentence
    meminfo = "MemTotal:       16000 kB\nMemAvailable:        100 kB\n"
    assert mem_available_bytes(meminfo) == 102_400
    assert memory_shortfall(tiny_model, meminfo=meminfo) is not None
    assert mem_available_bytes("MemTotal: 1 kB\n") is None


def test_a_7b_model_needs_28_gb_in_fp32(tmp_path: Path) -> None:
    folder = tmp_path / "seven-b"
    folder.mkdir()
    header = json.dumps({"w": {"dtype": "BF16", "shape": [7_000_000_000], "data_offsets": [0, 0]}}).encode()
    (folder / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header)
    sentence = memory_shortfall(folder, available=16 * 10**9)
    assert sentence is not None and "(7.00 B parameters) needs about 33.6 GB of RAM but only 16.0 GB" in sentence


def test_prompt_files_keep_newlines(tmp_path: Path) -> None:
    assert parse_prompts_text('["a\\n  b", "c"]') == ["a\n  b", "c"]
    assert parse_prompts_text("def hello(name):\\n    return\n\nplain \\\\n text\n") == [
        "def hello(name):\n    return", "plain \\n text"]
    with pytest.raises(PrecisionInputError, match="JSON list of strings"):
        parse_prompts_text("[1, 2]")
    assert read_prompts(None, []) == list(DEFAULT_PRECISION_PROMPTS)
    with pytest.raises(PrecisionInputError, match="cannot read the prompts file"):
        read_prompts(str(tmp_path / "none.txt"), [])
    with pytest.raises(PrecisionInputError, match="prompt 2 is empty"):
        read_prompts(None, ["x", "  "])
