"""The client and `ask` against a real OpenAI-compatible server nobody here wrote: `transformers serve`.

The server and its tiny Qwen2 come from `tests/real_server.py` (built in the
test, no hub); greedy decoding is deterministic, so the streamed and whole
replies can be compared exactly.

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
import json
from collections.abc import Iterator

import pytest

from tests.real_server import Served, transformers_serve
from tui.api.client import ApiClient
from tui.api.reply import Reply
from tui.api.request import ChatRequest, CompletionRequest, Sampling
from tui.commands import ask

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with transformers_serve(tmp_path_factory.mktemp("transformers-serve")) as server:
        yield server


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
