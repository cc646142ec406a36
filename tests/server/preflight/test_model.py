"""Finding the model on disk (local, ModelScope cache layouts, Hugging Face cache) and judging the folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.server.preflight.conftest import make_profile
from tui.profile import ModelSpec
from tui.server.model_location import check_model_folder, locate_model, modelscope_folder_name
from tui.server.preflight import check_model, check_model_source

CODER = "Qwen/Qwen2.5-Coder-0.5B-Instruct"


def model_folder(path: Path, *, weights: bool = True) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"architectures": ["Qwen2ForCausalLM"]}), encoding="utf-8")
    if weights:
        (path / "model.safetensors").write_bytes(b"\0" * 16)
    return path


def test_folder_name_escapes_every_dot() -> None:
    assert modelscope_folder_name(CODER) == "Qwen/Qwen2___5-Coder-0___5B-Instruct"


@pytest.mark.parametrize(
    ("sub", "layout"),
    [("hub/models", "hub/models"), ("models", "models/<org>"), ("hub", "hub/<org>"), ("", "<org>/<name>")],
)
def test_modelscope_id_is_found_in_each_cache_layout(tmp_path: Path, sub: str, layout: str) -> None:
    root = tmp_path / "ms"
    folder = model_folder(root / sub / "Qwen" / "Qwen2___5-Coder-0___5B-Instruct")
    location = locate_model(ModelSpec(id=CODER, source="modelscope"), {"MODELSCOPE_CACHE": str(root)})
    assert location.path == folder and location.problem is None
    assert layout in location.how and "'___'" in location.how
    assert check_model_folder(folder) == []


def test_modelscope_default_root_is_under_home(tmp_path: Path) -> None:
    folder = model_folder(tmp_path / ".cache/modelscope/hub/models/Qwen/Qwen2___5-Coder-0___5B-Instruct")
    location = locate_model(ModelSpec(id=CODER), {"HOME": str(tmp_path)})
    assert location.path == folder and "newer layout" in location.how


def test_modelscope_prefers_a_complete_copy(tmp_path: Path) -> None:
    model_folder(tmp_path / "hub/models/Qwen/Qwen2___5-Coder-0___5B-Instruct", weights=False)
    complete = model_folder(tmp_path / "hub/Qwen/Qwen2___5-Coder-0___5B-Instruct")
    location = locate_model(ModelSpec(id=CODER), {"MODELSCOPE_CACHE": str(tmp_path)})
    assert location.path == complete and "older layout" in location.how


def test_modelscope_not_downloaded_says_where_it_looked(tmp_path: Path) -> None:
    location = locate_model(ModelSpec(id=CODER), {"MODELSCOPE_CACHE": str(tmp_path)})
    assert location.path is None and location.problem is not None
    assert "Qwen/Qwen2___5-Coder-0___5B-Instruct" in location.problem and "modelscope download" in location.problem
    assert tmp_path / "hub/models/Qwen/Qwen2___5-Coder-0___5B-Instruct" in location.looked_in
    check = check_model(make_profile(model=ModelSpec(id=CODER)), {"MODELSCOPE_CACHE": str(tmp_path)}, [])
    assert check.status == "warn" and check.fix


def test_huggingface_snapshot_by_ref_and_newest(tmp_path: Path) -> None:
    repo = tmp_path / "hub" / "models--Qwen--Qwen2.5-0.5B"
    pinned = model_folder(repo / "snapshots" / "abc123")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123\n", encoding="utf-8")
    spec = ModelSpec(id="Qwen/Qwen2.5-0.5B", source="huggingface")
    assert locate_model(spec, {"HF_HOME": str(tmp_path)}).path == pinned
    (repo / "refs" / "main").unlink()
    assert locate_model(spec, {"HF_HUB_CACHE": str(tmp_path / "hub")}).path == pinned
    missing = locate_model(ModelSpec(id="Qwen/Qwen2.5-0.5B", source="huggingface", revision="v9"),
                           {"HF_HUB_CACHE": str(tmp_path / "hub")})
    assert missing.path is None and missing.problem and "revision v9" in missing.problem


def test_huggingface_offline_and_absent_is_a_fail(tmp_path: Path) -> None:
    profile = make_profile(model=ModelSpec(id="Qwen/Qwen2.5-0.5B", source="huggingface"))
    check = check_model(profile, {"HF_HUB_CACHE": str(tmp_path), "HF_HUB_OFFLINE": "1"}, [])
    assert check.status == "fail" and "HF_HUB_OFFLINE" in check.detail


def test_missing_local_folder_fails(tmp_path: Path) -> None:
    profile = make_profile(model=ModelSpec(id="x", source="local", path=f"{tmp_path}/models/none"))
    check = check_model(profile, {}, [])
    assert check.status == "fail" and f"{tmp_path}/models/none does not exist" in check.detail
    unset = make_profile(model=ModelSpec(id="x", source="local", path="${MODELS}/qwen"))
    assert "names a variable that is not set" in check_model(unset, {}, []).detail


def test_folder_without_weights_fails_unless_dummy(tmp_path: Path) -> None:
    folder = model_folder(tmp_path / "qwen", weights=False)
    (folder / "training_args.bin").write_bytes(b"x")  # not weights
    profile = make_profile(model=ModelSpec(id="q", source="local", path=str(folder)))
    check = check_model(profile, {}, ["vllm", "serve", str(folder)])
    assert check.status == "fail" and "holds no weights" in check.detail and check.fix
    dummy = check_model(profile, {}, ["vllm", "serve", str(folder), "--load-format", "dummy"])
    assert dummy.status == "pass" and "--load-format dummy" in dummy.detail


def test_config_and_index_problems(tmp_path: Path) -> None:
    folder = model_folder(tmp_path / "m", weights=False)
    (folder / "config.json").write_text("{not json", encoding="utf-8")
    index = {"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index), encoding="utf-8")
    (folder / "model-00001-of-00002.safetensors").write_bytes(b"\0" * 8)
    problems = check_model_folder(folder)
    assert len(problems) == 2
    assert "config.json is not valid JSON" in problems[0]
    assert "2 shard(s) and 1 are missing or empty: model-00002-of-00002.safetensors" in problems[1]
    (folder / "config.json").write_text("{}", encoding="utf-8")
    (folder / "model-00002-of-00002.safetensors").write_bytes(b"\0" * 8)
    assert check_model_folder(folder) == []
    assert check_model_folder(tmp_path / "absent") == [f"{tmp_path / 'absent'} does not exist"]
    (tmp_path / "empty").mkdir()
    assert "has no config.json" in check_model_folder(tmp_path / "empty")[0]


def test_modelscope_source_needs_vllm_use_modelscope_from_the_profile() -> None:
    profile = make_profile(model=ModelSpec(id=CODER, source="modelscope"))
    unset = check_model_source(profile, {}, {})
    assert unset.status == "warn" and "Hugging Face Hub" in unset.detail
    assert unset.fix and "VLLM_USE_MODELSCOPE=True" in unset.fix
    inherited = check_model_source(profile, {}, {"VLLM_USE_MODELSCOPE": "True"})
    assert inherited.status == "warn" and "inherited" in inherited.detail
    numeric = check_model_source(profile, {"VLLM_USE_MODELSCOPE": "1"}, {"VLLM_USE_MODELSCOPE": "1"})
    assert numeric.status == "fail" and "reads as false" in numeric.detail
    good = check_model_source(profile, {"VLLM_USE_MODELSCOPE": "True"}, {"VLLM_USE_MODELSCOPE": "True"})
    assert good.status == "pass"


def test_huggingface_model_redirected_to_modelscope_warns() -> None:
    profile = make_profile(model=ModelSpec(id="Qwen/Qwen2.5-0.5B", source="huggingface"))
    check = check_model_source(profile, {}, {"VLLM_USE_MODELSCOPE": "true"})
    assert check.status == "warn" and check.fix and "VLLM_USE_MODELSCOPE=False" in check.fix
    assert check_model_source(profile, {}, {}).status == "pass"
