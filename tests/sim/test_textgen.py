"""The toy tokenizer and the seeded text generator."""

from __future__ import annotations

import pytest

from tui.sim import textgen
from tui.sim.textgen import ChatMessage


@pytest.mark.parametrize(
    "text",
    [
        "Hello world! The NPU is ready.",
        "你好，世界 🚀",
        "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n",
        "  leading spaces\tand\ttabs\n\n\nand weird ~`^ punctuation 12345",
        "",
    ],
)
def test_decode_inverts_encode(text: str) -> None:
    assert textgen.decode(textgen.encode(text)) == text


def test_special_tokens_keep_qwen_ids() -> None:
    assert textgen.encode("<|im_end|></think>") == [151645, 151668]
    assert textgen.decode([151645], skip_special_tokens=True) == ""


def test_unknown_ids_are_refused() -> None:
    with pytest.raises(ValueError):
        textgen.decode([9_999_999])
    assert not textgen.is_valid_token(-1)


def test_generation_is_deterministic_per_prompt_and_seed() -> None:
    prompt = textgen.encode("Tell me about Ascend.")
    first = textgen.generate(prompt, 200, seed=7)
    assert textgen.generate(prompt, 200, seed=7) == first
    assert textgen.generate(prompt, 200) == textgen.generate(prompt, 200), "no seed: still fixed per prompt"
    others = {textgen.generate(prompt, 200, seed=seed).content_ids for seed in range(8)}
    assert len(others) > 1, "different seeds give different replies when sampling"
    greedy = {textgen.generate(prompt, 200, seed=seed, temperature=0).content_ids for seed in range(4)}
    assert len(greedy) == 1, "temperature 0 ignores the seed"


def test_natural_end_counts_the_eos_token_like_vllm() -> None:
    gen = textgen.generate(textgen.encode("hi"), 1000)
    assert gen.finish_reason == "stop" and gen.eos_id == 151645
    assert gen.completion_tokens == len(gen.content_ids) + 1
    assert textgen.decode(gen.content_ids).endswith(".")


def test_max_tokens_and_ignore_eos_give_exact_lengths() -> None:
    prompt = textgen.encode("hi")
    assert textgen.generate(prompt, 5).completion_tokens == 5
    assert textgen.generate(prompt, 5).finish_reason == "length"
    long = textgen.generate(prompt, 700, ignore_eos=True)
    assert long.completion_tokens == 700 and long.finish_reason == "length"
    assert textgen.generate(prompt, 1000, min_tokens=300).completion_tokens >= 300


def test_stop_strings_cut_the_answer() -> None:
    gen = textgen.generate(textgen.encode("hi"), 1000, ignore_eos=True, stop=["."])
    assert gen.finish_reason == "stop" and gen.stop_reason == "."
    assert "." not in textgen.decode(gen.content_ids)


def test_thinking_reply_reasons_first_and_reencodes_to_the_same_ids() -> None:
    gen = textgen.generate(textgen.encode("why?"), 1000, thinking=True)
    assert gen.reasoning_ids and gen.content_ids and gen.reasoning_closed
    assert textgen.decode(gen.content_ids).startswith("\n\n")
    assert textgen.encode(textgen.decode(gen.all_ids)) == list(gen.all_ids)
    cut = textgen.generate(textgen.encode("why?"), 3, thinking=True)
    assert cut.completion_tokens == 3 and not cut.content_ids and not cut.reasoning_closed


def test_chat_prompt_is_chatml_with_qwen25_default_system() -> None:
    prompt = textgen.render_chat_prompt([ChatMessage("user", "hi")], default_system=textgen.QWEN25_DEFAULT_SYSTEM)
    assert prompt == (
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    )
    thinking = textgen.render_chat_prompt([ChatMessage("user", "hi")], thinking=True)
    assert thinking.endswith("<|im_start|>assistant\n<think>\n")
