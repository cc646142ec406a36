"""Builds a tiny real model folder that vLLM's CPU build (and transformers) can serve.

    python -m tui.stages.tiny_model DIR [--arch qwen2|qwen3] [--force]

No hub is touched: the byte-level BPE tokenizer is trained here with `tokenizers`, the weights are made
here with torch and saved as safetensors by transformers, and the folder carries a ChatML chat template.

- `qwen2`: random weights (seeded), 2 layers, hidden 128, 2 heads and 1 KV head (head_dim 64: vLLM's CPU
  attention rejects head_dim 16). Only word-like tokens keep an output row in `lm_head`, so greedy
  decoding yields readable, deterministic text that never ends by itself (benchmarks get the output
  length they ask for).
- `qwen3`: the same shape as Qwen3, trained here for a few seconds until greedy decoding of any chat
  prompt gives `<think>` reasoning `</think>` and an answer, with Qwen3's thinking chat template, so
  `--reasoning-parser qwen3` has real reasoning to split off.

Speaks the stage protocol (JSON lines on stdout); needs torch, tokenizers and transformers in the
interpreter that runs it (the serving environment has them).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

CORPUS = [
    "The capital of France is Paris.",
    "Hello, how are you today?",
    "Ascend NPU hosts run vLLM and serve small models.",
    "Once upon a time there was a small model that answered every question.",
    "Tensor parallelism splits every layer across several chips.",
    "Let me think about the question step by step.",
]
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
THINK_TOKENS = ["<think>", "</think>"]
CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
# Qwen3's template, cut down to what a tiny model needs: the reasoning is dropped from earlier turns, and
# `enable_thinking=false` closes an empty think block in the generation prompt as Qwen3's own does.
QWEN3_THINKING = (
    "{% for message in messages %}{% set content = message['content'] %}"
    "{% if message['role'] == 'assistant' and '</think>' in content %}"
    "{% set content = content.split('</think>')[-1].lstrip('\n') %}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + content + '<|im_end|>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
    "{% if enable_thinking is defined and enable_thinking is false %}{{ '<think>\n\n</think>\n\n' }}{% endif %}"
    "{% endif %}"
)
THINKING_REPLY = "<think>\nLet me think about the question step by step.\n</think>\n\nHello, how are you today?"
TRAINING_PROMPTS = ["say hi", "Hello", "What is the capital of France?", "Tell me a story.", "hi", "2+2?"]
WORD = re.compile(r" ?[A-Za-z]{2,}")
ARCHES = ("qwen2", "qwen3")


def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def _train_tokenizer(folder: Path, arch: str) -> Any:
    import tokenizers

    tokenizer = tokenizers.Tokenizer(tokenizers.models.BPE())
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(
        vocab_size=400, special_tokens=SPECIAL_TOKENS, show_progress=False,
        initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(CORPUS * 10, trainer)
    if arch == "qwen3":
        # Not special, as in Qwen3's own tokenizer: they stay in the decoded text for the reasoning parser.
        tokenizer.add_tokens([tokenizers.AddedToken(token, special=False, normalized=False) for token in THINK_TOKENS])
    tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast", "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
        "bos_token": None, "unk_token": None, "add_bos_token": False, "model_max_length": 1024,
        "chat_template": QWEN3_THINKING if arch == "qwen3" else CHATML,
    }, indent=1))
    return tokenizer


def _config(transformers: Any, arch: str, vocab: int, eos: int, pad: int) -> Any:
    shape = dict(vocab_size=vocab, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                 num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=1024,
                 tie_word_embeddings=False, eos_token_id=eos, pad_token_id=pad, bos_token_id=None)
    if arch == "qwen3":
        return transformers.Qwen3Config(head_dim=64, **shape)
    return transformers.Qwen2Config(**shape)


def _train_thinking(model: Any, tokenizer: Any, torch: Any) -> int:
    """Teaches the model one reasoning-then-answer reply to any prompt; returns the steps it took."""
    rows, prompt_lengths = [], []
    for prompt in TRAINING_PROMPTS:
        asked = f"<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n"
        prompt_lengths.append(len(tokenizer.encode(asked).ids))
        rows.append(tokenizer.encode(f"{asked}{THINKING_REPLY}<|im_end|>\n").ids)
    width = max(len(row) for row in rows)
    pad = tokenizer.token_to_id("<|endoftext|>")
    ids = torch.tensor([row + [pad] * (width - len(row)) for row in rows])
    labels = ids.clone()
    labels[ids == pad] = -100
    for row, length in enumerate(prompt_lengths):
        labels[row, :length] = -100  # only the reply is taught: the prompt is whatever the operator asks
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for step in range(1, 801):
        loss = model(input_ids=ids, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 50 == 0:
            emit("progress", done=step, total=800, unit="step", message=f"training: loss {loss.item():.4f}")
            if loss.item() < 0.01:
                break
    model.eval()
    return step


def _check_thinking(model: Any, tokenizer: Any, torch: Any) -> str:
    prompt = "<|im_start|>user\nsay hi<|im_end|>\n<|im_start|>assistant\n"
    ids = torch.tensor([tokenizer.encode(prompt).ids])
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=48, do_sample=False)
    text: str = tokenizer.decode(out[0, ids.shape[1]:].tolist(), skip_special_tokens=False)
    return text


def build(folder: Path, arch: str = "qwen2") -> dict[str, Any]:
    """Writes the tiny model into `folder` (which must not exist); returns what was built."""
    import torch
    import transformers

    if arch not in ARCHES:
        raise ValueError(f"unknown architecture {arch!r}: choose one of {', '.join(ARCHES)}")
    folder.mkdir(parents=True)
    tokenizer = _train_tokenizer(folder, arch)
    eos, pad = tokenizer.token_to_id("<|im_end|>"), tokenizer.token_to_id("<|endoftext|>")
    config = _config(transformers, arch, tokenizer.get_vocab_size(), eos, pad)
    torch.manual_seed(0)
    model_class = transformers.Qwen3ForCausalLM if arch == "qwen3" else transformers.Qwen2ForCausalLM
    model = model_class(config)
    steps = 0
    if arch == "qwen3":
        steps = _train_thinking(model, tokenizer, torch)
        sample = _check_thinking(model, tokenizer, torch)
        if "</think>" not in sample:
            raise RuntimeError(f"the tiny Qwen3 did not learn to close its reasoning: {sample!r}")
    else:
        with torch.no_grad():
            for token_id in range(tokenizer.get_vocab_size()):
                if not WORD.fullmatch(tokenizer.decode([token_id])):
                    model.lm_head.weight[token_id].zero_()
    model.save_pretrained(folder)
    # Greedy by default: vLLM takes its default sampling from here, and only greedy decoding reads as words (a
    # sampled reply from random weights is byte soup of any length), so a reply is the same on every request.
    (folder / "generation_config.json").write_text(json.dumps({"eos_token_id": eos, "pad_token_id": pad,
                                                               "do_sample": False, "temperature": 0.0}))
    size = sum(path.stat().st_size for path in folder.iterdir())
    return {"path": str(folder), "arch": arch, "architecture": type(model).__name__,
            "vocab_size": tokenizer.get_vocab_size(), "head_dim": 64, "training_steps": steps, "bytes": size}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tui.stages.tiny_model", description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--arch", choices=ARCHES, default="qwen2")
    parser.add_argument("--force", action="store_true", help="build again even if the folder holds a model")
    args = parser.parse_args(argv)
    folder: Path = args.folder
    if folder.exists() and not args.force:
        if all((folder / name).is_file() for name in ("config.json", "model.safetensors", "tokenizer.json")):
            emit("result", path=str(folder), arch=args.arch, already_built=True)  # idempotent: a re-run is fine
            return 0
        emit("error", message=f"{folder} already exists and is not a tiny model built here: pass --force to replace it")
        return 2
    if folder.exists():
        shutil.rmtree(folder)
    try:
        result = build(folder, args.arch)
    except ImportError as exc:
        emit("error", message=f"a tiny model needs torch, tokenizers and transformers here ({exc.name} is missing)")
        return 1
    except (OSError, RuntimeError, ValueError) as exc:
        shutil.rmtree(folder, ignore_errors=True)
        emit("error", message=f"could not build the tiny model: {exc}")
        return 1
    emit("result", **result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
