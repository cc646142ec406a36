"""The random dataset: every prompt exactly as long as asked, by the model's own tokenizer or the server's."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.real_server import build_tiny_qwen2
from tests.stages.bench.conftest import served_model
from tui.stages.bench.dataset import DatasetError, LocalTokenizer, ServerTokenizer, random_dataset


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiny") / "tiny-qwen2"
    build_tiny_qwen2(folder)
    return folder


def test_prompts_have_exact_lengths_by_the_models_tokenizer(tiny_model: Path) -> None:
    codec = LocalTokenizer(tiny_model)
    built = random_dataset(codec, 20, 48, 16, seed=3)
    assert len(built.prompts) == 20 and built.inexact == 0
    for prompt in built.prompts:
        assert len(codec.encode(prompt.text)) == prompt.prompt_len == 48
        assert prompt.output_len == 16
    # special tokens never appear in a prompt
    assert "<|im_end|>" not in "".join(prompt.text for prompt in built.prompts)
    assert len({prompt.text for prompt in built.prompts}) > 10  # windows of a 400-token vocabulary may repeat


def test_same_seed_same_prompts(tiny_model: Path) -> None:
    codec = LocalTokenizer(tiny_model)
    assert random_dataset(codec, 4, 32, 8, seed=1) == random_dataset(codec, 4, 32, 8, seed=1)
    assert random_dataset(codec, 4, 32, 8, seed=1) != random_dataset(codec, 4, 32, 8, seed=2)


def test_range_ratio_draws_lengths_within_bounds(tiny_model: Path) -> None:
    codec = LocalTokenizer(tiny_model)
    built = random_dataset(codec, 40, 40, 20, range_ratio=0.5, seed=5)
    assert all(20 <= prompt.prompt_len <= 60 and 10 <= prompt.output_len <= 30 for prompt in built.prompts)
    assert len({prompt.prompt_len for prompt in built.prompts}) > 5
    with pytest.raises(DatasetError, match="range ratio"):
        random_dataset(codec, 1, 40, 20, range_ratio=1.0)


def test_server_tokenizer_of_the_simulator(instant_url: str) -> None:
    codec = ServerTokenizer(instant_url, served_model(instant_url))
    built = random_dataset(codec, 8, 100, 10, seed=0)
    assert built.source.endswith("/tokenize")
    exact = [prompt for prompt in built.prompts if not prompt.mismatch]
    assert len(exact) == 8
    assert all(len(codec.encode(prompt.text)) == 100 for prompt in built.prompts)


def test_a_server_without_tokenize_says_what_to_do() -> None:
    codec = ServerTokenizer("http://127.0.0.1:9", "m")
    with pytest.raises(DatasetError, match="--tokenizer DIR"):
        codec.encode("hello")
