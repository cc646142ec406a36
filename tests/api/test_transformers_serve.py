"""The client and `ask` against a real OpenAI-compatible server nobody here wrote: `transformers serve`.

The test builds its own tiny Qwen2 (random weights, 2 layers, hidden 64, saved
as safetensors), a byte-level BPE tokenizer trained here with `tokenizers`, and
a ChatML chat template, so no hub is touched. Only word-like tokens keep an
output row in `lm_head`, so greedy decoding yields readable, deterministic text
(never an end-of-turn token) and the streamed and whole replies can be
compared exactly.

What this server does differently from vLLM, and the client must survive: no
`[DONE]` at the end of a stream (the finish reason and usage come in the last
chunk), usage sent even without `include_usage`, a completion stream with no
role chunk, a whole chat reply whose content is stripped (the streamed one is
not), errors as FastAPI `{"detail": …}`, and `/v1/models` listing the hub
cache rather than the pinned model (empty here; it fails outright unless
`HF_HUB_CACHE` is an existing folder).
"""

from __future__ import annotations

import argparse
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
from tui.api.client import ApiClient
from tui.api.reply import Reply
from tui.api.request import ChatRequest, CompletionRequest, Sampling
from tui.commands import ask

pytestmark = pytest.mark.slow

START_TIMEOUT_S = 180.0
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


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    pytest.importorskip("fastapi")
    root = tmp_path_factory.mktemp("transformers-serve")
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


GREEDY = Sampling(max_tokens=8, temperature=0.0)


def assert_complete(reply: Reply) -> None:
    assert reply.error is None and not reply.partial, reply.error
    assert reply.text and reply.finish_reason == "length"
    assert reply.usage is not None and reply.usage.completion_tokens == 8


async def test_models_listing_does_not_fail(served: Served) -> None:
    async with ApiClient(served.url) as client:
        models = await client.list_models()
    assert isinstance(models, tuple)  # empty: it lists the hub cache, not the pinned folder


async def test_chat_streamed_and_whole(served: Served) -> None:
    request = ChatRequest.single("Hello, how are you?", system="Answer briefly.", sampling=GREEDY)
    async with ApiClient(served.url) as client:
        whole = await client.chat(request)
        deltas = []
        async with client.stream_chat(request) as stream:
            async for delta in stream:
                deltas.append(delta)
        named = await client.chat(ChatRequest.single("Hello, how are you?", model=str(served.model_dir),
                                                     system="Answer briefly.", sampling=GREEDY))
    streamed = stream.reply
    assert_complete(whole)
    assert_complete(streamed)  # complete although the server sends no [DONE]
    assert streamed.text == "".join(d.text for d in deltas)
    # the server strips the whole reply's content, not the streamed one: compare without the edges
    assert streamed.text.strip() == whole.text.strip() == named.text.strip()
    assert streamed.timings.output_tokens == 8 and not streamed.timings.output_tokens_estimated
    assert streamed.timings.ttft_ms is not None and streamed.timings.e2e_ms is not None


async def test_completion_streamed_and_whole(served: Served) -> None:
    request = CompletionRequest("The capital of France is", sampling=GREEDY)
    async with ApiClient(served.url) as client:
        whole = await client.complete(request)
        streamed = await client.stream_complete(request).collect()
    assert_complete(whole)
    assert_complete(streamed)
    assert streamed.text == whole.text


async def test_the_servers_own_error_message(served: Served) -> None:
    async with ApiClient(served.url) as client:
        reply = await client.chat(ChatRequest.single("hi", model="no/such-model"))
        streamed = await client.stream(CompletionRequest("hi", model="no/such-model")).collect()
    for answer in (reply, streamed):
        assert answer.status == 400 and answer.error is not None
        assert f"Server is pinned to '{served.model_dir}'; requested 'no/such-model'." in answer.error


def run_ask(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="npu-console ask")
    ask.add_arguments(parser)
    return ask.run(parser.parse_args(argv))


def test_ask_chat_and_completion(served: Served, capsys: pytest.CaptureFixture[str]) -> None:
    # no --model: /v1/models lists none, so the request names none and the pinned model answers
    assert run_ask(["--url", served.url, "--max-tokens", "8", "--temperature", "0", "Hello"]) == 0
    streamed = capsys.readouterr()
    assert run_ask(["--url", served.url, "--max-tokens", "8", "--temperature", "0", "--no-stream", "Hello"]) == 0
    whole = capsys.readouterr()
    assert streamed.out.strip() and streamed.out.strip() == whole.out.strip()
    assert "8 tokens" in streamed.err and "finish length" in streamed.err
    assert run_ask(["--url", served.url, "--completion", "--max-tokens", "8", "--temperature", "0", "--json",
                    "The capital of France is"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["text"] and data["output_tokens"] == 8 and data["usage"]["completion_tokens"] == 8
    assert data["finish_reason"] == "length" and data["ttft_ms"] is not None


def test_ask_with_a_wrong_model_exits_1_with_the_servers_message(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_ask(["--url", served.url, "--model", "no/such-model", "hi"]) == 1
    assert "Server is pinned to" in capsys.readouterr().err
