"""What the simulated server learns from a model folder's `config.json`.

Only the numbers that shape a vLLM start-up are read: architecture, context
limit, layer and head geometry, vocabulary, dtype. From them the size of the
weights is estimated the way a parameter count works out for a dense decoder
(embeddings, attention and MLP projections per layer, norms), which lands within
a few percent of the real checkpoints of the Qwen2/Qwen3/Llama families.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GIB = 1024**3

DTYPE_BYTES = {"bfloat16": 2, "float16": 2, "half": 2, "float32": 4, "float": 4}

# Architectures the simulated vLLM-Ascend accepts; anything else fails as
# "not supported", like a real build without that model.
SUPPORTED_ARCHITECTURES = (
    "Qwen2ForCausalLM",
    "Qwen3ForCausalLM",
    "Qwen3MoeForCausalLM",
    "LlamaForCausalLM",
    "MistralForCausalLM",
    "DeepseekV2ForCausalLM",
    "DeepseekV3ForCausalLM",
    "Glm4ForCausalLM",
    "Qwen2VLForConditionalGeneration",
    "Qwen2_5_VLForConditionalGeneration",
    "Qwen3VLForConditionalGeneration",
)


class ModelConfigError(Exception):
    """The folder has no readable `config.json`; the message says which file."""


@dataclass(frozen=True)
class ModelFacts:
    """The model geometry the start-up log and the memory plan need."""

    path: str
    architecture: str
    model_type: str
    max_position_embeddings: int
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    tie_word_embeddings: bool
    torch_dtype: str
    has_remote_code: bool
    eos_token_id: int | None

    @property
    def param_count(self) -> int:
        """Estimated parameters of a dense decoder with this geometry."""
        h = self.hidden_size
        q_out = self.num_heads * self.head_dim
        kv_out = self.num_kv_heads * self.head_dim
        attention = h * q_out + 2 * h * kv_out + q_out * h
        if self.model_type == "qwen2":
            attention += q_out + 2 * kv_out  # qkv biases
        mlp = 3 * h * self.intermediate_size
        per_layer = attention + mlp + 2 * h
        embeddings = self.vocab_size * h * (1 if self.tie_word_embeddings else 2)
        return embeddings + self.num_layers * per_layer + h

    def kv_bytes_per_token(self, dtype_bytes: int, tensor_parallel: int) -> int:
        """K and V of every layer for one token on one chip."""
        kv_heads_per_chip = max(1, self.num_kv_heads // max(1, tensor_parallel))
        return 2 * self.num_layers * kv_heads_per_chip * self.head_dim * dtype_bytes

    @property
    def is_thinking(self) -> bool:
        """Reasoning checkpoints name themselves so (Qwen3-*-Thinking-*)."""
        return "thinking" in Path(self.path).name.lower()


def _int(config: dict[str, Any], key: str, default: int) -> int:
    value = config.get(key, default)
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def load_model_facts(model: str) -> ModelFacts:
    """Read `<model>/config.json`; raise ModelConfigError when the folder holds none."""
    config_path = Path(model) / "config.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelConfigError(str(config_path)) from exc
    if not isinstance(config, dict):
        raise ModelConfigError(str(config_path))
    text_config = config.get("text_config")
    geometry = text_config if isinstance(text_config, dict) else config
    architectures = config.get("architectures") or ["LlamaForCausalLM"]
    hidden = _int(geometry, "hidden_size", 4096)
    heads = _int(geometry, "num_attention_heads", 32)
    eos = config.get("eos_token_id")
    return ModelFacts(
        path=model,
        architecture=str(architectures[0]),
        model_type=str(config.get("model_type", "")),
        max_position_embeddings=_int(geometry, "max_position_embeddings", 4096),
        hidden_size=hidden,
        num_layers=_int(geometry, "num_hidden_layers", 32),
        num_heads=heads,
        num_kv_heads=_int(geometry, "num_key_value_heads", heads),
        head_dim=_int(geometry, "head_dim", hidden // max(1, heads)),
        intermediate_size=_int(geometry, "intermediate_size", 4 * hidden),
        vocab_size=_int(geometry, "vocab_size", 32000),
        tie_word_embeddings=bool(config.get("tie_word_embeddings", False)),
        torch_dtype=str(config.get("torch_dtype") or config.get("dtype") or "bfloat16"),
        has_remote_code="auto_map" in config,
        eos_token_id=eos if isinstance(eos, int) else None,
    )


def read_generation_defaults(model: str) -> dict[str, Any]:
    """The sampling defaults in `generation_config.json` that vLLM announces at start-up."""
    try:
        data = json.loads((Path(model) / "generation_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {key: data[key] for key in ("repetition_penalty", "temperature", "top_k", "top_p") if key in data}
