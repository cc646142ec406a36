"""A real OpenAI-compatible server nobody here wrote, and the tiny real model it serves.

`build_tiny_qwen2` makes a Qwen2 causal LM of a few hundred KB (random weights,
2 layers, hidden 64, safetensors), a byte-level BPE tokenizer trained here with
`tokenizers`, and a ChatML chat template, so no hub is touched. Only word-like
tokens keep an output row in `lm_head`, so greedy decoding yields readable,
deterministic text (never an end-of-turn token).

`transformers_serve` runs `transformers serve` on that folder on loopback; the
client, benchmark and precision tests share it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.sim.harness import free_port

START_TIMEOUT_S = 600.0  # a hang guard: a busy machine can take minutes to load torch; an exit fails at once
CORPUS = [
    "The capital of France is Paris.",
    "Hello, how are you today?",
    "Ascend NPU hosts run vLLM and serve small models.",
    "Once upon a time there was a small model that answered every question.",
    "Tensor parallelism splits every layer across several chips.",
]
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
WORD = re.compile(r" ?[A-Za-z]{2,}")


def build_tiny_qwen2(folder: Path) -> None:
    """A Qwen2 causal LM of a few hundred KB, its tokenizer and chat template, in `folder`."""
    torch = pytest.importorskip("torch")
    tokenizers = pytest.importorskip("tokenizers")
    transformers = pytest.importorskip("transformers")
    folder.mkdir(parents=True)
    tokenizer = tokenizers.Tokenizer(tokenizers.models.BPE())
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(
        vocab_size=400, special_tokens=SPECIAL_TOKENS, show_progress=False,
        initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(CORPUS * 10, trainer)
    tokenizer.save(str(folder / "tokenizer.json"))
    eos, pad = tokenizer.token_to_id("<|im_end|>"), tokenizer.token_to_id("<|endoftext|>")
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast", "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
        "bos_token": None, "unk_token": None, "add_bos_token": False, "model_max_length": 512,
        "chat_template": CHATML,
    }))
    config = transformers.Qwen2Config(
        vocab_size=tokenizer.get_vocab_size(), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, tie_word_embeddings=False,
        eos_token_id=eos, pad_token_id=pad, bos_token_id=None,
    )
    torch.manual_seed(0)
    model = transformers.Qwen2ForCausalLM(config)
    with torch.no_grad():
        for token_id in range(tokenizer.get_vocab_size()):
            if not WORD.fullmatch(tokenizer.decode([token_id])):
                model.lm_head.weight[token_id].zero_()
    model.save_pretrained(folder)
    assert (folder / "model.safetensors").is_file()


def transformers_cli() -> str:
    found = shutil.which("transformers", path=str(Path(sys.executable).parent)) or shutil.which("transformers")
    if found is None:
        pytest.skip("the `transformers` command is not installed (pip install 'transformers[serving]')")
    return found


@dataclass(frozen=True)
class Served:
    url: str
    model_dir: Path


@contextlib.contextmanager
def transformers_serve(root: Path) -> Iterator[Served]:
    """`transformers serve` of a freshly built tiny Qwen2 (in `root`) on a free loopback port, killed as a group."""
    pytest.importorskip("fastapi")
    model_dir = root / "tiny-qwen2"
    build_tiny_qwen2(model_dir)
    cache = root / "hub-cache"
    cache.mkdir()
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache), "HF_HOME": str(root / "hf-home"),
           "TOKENIZERS_PARALLELISM": "false", "NO_COLOR": "1"}
    argv = [transformers_cli(), "serve", str(model_dir), "--host", "127.0.0.1", "--port", str(port),
            "--device", "cpu", "--log-level", "info"]
    log_path = root / "serve.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                   start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"transformers serve exited with {process.returncode}:\n"
                            f"{log_path.read_text(errors='replace')[-4000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"transformers serve did not answer /health within {START_TIMEOUT_S:g} s:\n"
                            f"{log_path.read_text(errors='replace')[-4000:]}")
            time.sleep(0.1)
        yield Served(url, model_dir)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
