"""Real little checkpoints for the demo's stages: an FP8 one to dequantize, a real model to check precision.

    python -m tui.sim.demo_checkpoints fp8 DIR     # a tiny block-FP8 checkpoint (DeepSeek/Qwen3-FP8 layout)
    python -m tui.sim.demo_checkpoints model DIR   # a tiny real Qwen2 (tui.stages.tiny_model)

The simulated host's model folders hold config files only: a stand-in vLLM needs no
weights. The dequant and the precision check, though, run for real (on this CPU), so
the demo builds them something real to work on the first time they are asked for:
a few megabytes, a few seconds. Speaks the stage protocol (JSON lines on stdout) and
runs under the stage Python; without torch (and safetensors) there it says so in one
sentence and exits 2.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

BLOCK = 128
HIDDEN = 256
INTERMEDIATE = 512
LAYERS = 2
VOCAB = 512
MISSING = ("The demo's {what} needs torch and safetensors in the stage Python ({python}); "
           "install them there (pip install 'npu-console[stages]') to try it.")


def build_fp8(folder: Path) -> dict[str, object]:
    """A Qwen2-shaped checkpoint whose linear weights are float8_e4m3fn with 128×128 `weight_scale_inv` blocks."""
    import torch
    from safetensors.torch import save_file

    from tui.stages.events import emit_progress

    generator = torch.Generator().manual_seed(0)
    tensors: dict[str, torch.Tensor] = {
        "model.embed_tokens.weight": torch.randn(VOCAB, HIDDEN, generator=generator).to(torch.bfloat16),
        "model.norm.weight": torch.ones(HIDDEN, dtype=torch.bfloat16),
        "lm_head.weight": torch.randn(VOCAB, HIDDEN, generator=generator).to(torch.bfloat16),
    }
    shapes = {"self_attn.q_proj": (HIDDEN, HIDDEN), "self_attn.k_proj": (HIDDEN // 2, HIDDEN),
              "self_attn.v_proj": (HIDDEN // 2, HIDDEN), "self_attn.o_proj": (HIDDEN, HIDDEN),
              "mlp.gate_proj": (INTERMEDIATE, HIDDEN), "mlp.up_proj": (INTERMEDIATE, HIDDEN),
              "mlp.down_proj": (HIDDEN, INTERMEDIATE)}
    for layer in range(LAYERS):
        prefix = f"model.layers.{layer}"
        tensors[f"{prefix}.input_layernorm.weight"] = torch.ones(HIDDEN, dtype=torch.bfloat16)
        tensors[f"{prefix}.post_attention_layernorm.weight"] = torch.ones(HIDDEN, dtype=torch.bfloat16)
        for name, (rows, cols) in shapes.items():
            weight = torch.randn(rows, cols, generator=generator) * 0.05
            blocks = (-(-rows // BLOCK), -(-cols // BLOCK))
            scale = torch.empty(blocks, dtype=torch.float32)
            quantized = torch.empty(rows, cols, dtype=torch.float8_e4m3fn)
            for i in range(blocks[0]):
                for j in range(blocks[1]):
                    tile = weight[i * BLOCK:(i + 1) * BLOCK, j * BLOCK:(j + 1) * BLOCK]
                    step = float(tile.abs().max()) / 448.0 or 1.0
                    scale[i, j] = step
                    quantized[i * BLOCK:(i + 1) * BLOCK, j * BLOCK:(j + 1) * BLOCK] = \
                        (tile / step).to(torch.float8_e4m3fn)
            tensors[f"{prefix}.{name}.weight"] = quantized
            tensors[f"{prefix}.{name}.weight_scale_inv"] = scale
        emit_progress(layer + 1, LAYERS, "layers", "building the tiny FP8 checkpoint")
    partial = folder.with_name(folder.name + ".partial")  # complete or absent: renamed into place at the end
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    save_file(tensors, str(partial / "model.safetensors"), metadata={"format": "pt"})
    config = {
        "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": HIDDEN,
        "intermediate_size": INTERMEDIATE, "num_hidden_layers": LAYERS, "num_attention_heads": 4,
        "num_key_value_heads": 2, "vocab_size": VOCAB, "max_position_embeddings": 2048,
        "torch_dtype": "bfloat16", "rms_norm_eps": 1e-6, "tie_word_embeddings": False,
        "quantization_config": {"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic",
                                "weight_block_size": [BLOCK, BLOCK]},
    }
    (partial / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    return {"path": str(folder), "tensors": len(tensors), "kind": "fp8"}


def main(argv: list[str] | None = None) -> int:
    from tui.stages.events import emit_error, emit_result

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or args[0] not in ("fp8", "model"):
        emit_error("usage: python -m tui.sim.demo_checkpoints fp8|model DIR")
        return 2
    kind, folder = args[0], Path(args[1])
    try:
        import safetensors  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        what = "dequant" if kind == "fp8" else "precision check"
        emit_error(MISSING.format(what=what, python=sys.executable))
        return 2
    if kind == "model":
        from tui.stages.tiny_model import main as tiny_model

        return int(tiny_model([str(folder), "--force"]) or 0)
    emit_result(build_fp8(folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
