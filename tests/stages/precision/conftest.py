"""Tiny real models for the precision tests, built here (no hub): one reference folder and altered copies.

The reference is a 4-layer Qwen2 (hidden 64, vocab ~400) on the BPE tokenizer of `tests.real_server`,
with its own weights: every lm_head row kept and a wider initialisation, so the logits have real-model
spreads (a few units, not hundredths) and top-1 is not decided by ties. Altered copies (one layer's
weights perturbed, a NaN planted) stand in for a broken port on the candidate side.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from tests.real_server import build_tiny_qwen2  # noqa: E402

LAYERS = 4


def build_reference(folder: Path) -> Path:
    build_tiny_qwen2(folder)  # tokenizer, chat template and a model we replace below
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder))
    config = transformers.Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=LAYERS,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256, tie_word_embeddings=False,
        initializer_range=0.08, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(1234)
    model = transformers.Qwen2ForCausalLM(config)
    for path in folder.glob("*.safetensors"):
        path.unlink()
    model.save_pretrained(folder)
    return folder


def altered_copy(source: Path, target: Path, change: Callable[[object], None]) -> Path:
    """A copy of `source` whose weights `change(model)` edits in place (in float32), saved to `target`."""
    shutil.copytree(source, target)
    model = transformers.AutoModelForCausalLM.from_pretrained(str(source), dtype=torch.float32)
    with torch.no_grad():
        change(model)
    for path in target.glob("*.safetensors"):
        path.unlink()
    model.save_pretrained(target)
    return target


def perturb_layer(layer: int, scale: float = 1.0) -> Callable[[object], None]:
    """Add Gaussian noise as large as the weights themselves to one decoder layer's MLP output projection."""
    def change(model: object) -> None:
        weight = model.model.layers[layer].mlp.down_proj.weight  # type: ignore[attr-defined]
        generator = torch.Generator().manual_seed(7)
        weight.add_(torch.randn(weight.shape, generator=generator) * weight.std() * scale * 10)

    return change


def plant_nan(layer: int) -> Callable[[object], None]:
    def change(model: object) -> None:
        model.model.layers[layer].mlp.down_proj.weight[0, 0] = float("nan")  # type: ignore[attr-defined]

    return change


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_reference(tmp_path_factory.mktemp("precision") / "tiny-qwen2")


@pytest.fixture(scope="session")
def perturbed_model(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return altered_copy(tiny_model, tmp_path_factory.mktemp("precision-bad") / "perturbed-layer-2", perturb_layer(2))


@pytest.fixture(scope="session")
def nan_model(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return altered_copy(tiny_model, tmp_path_factory.mktemp("precision-nan") / "nan-layer-1", plant_nan(1))
