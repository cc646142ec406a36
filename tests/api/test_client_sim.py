"""The client against the simulated vLLM server, a real process on loopback.

Models, chat and completion streamed and whole, usage, reasoning from the
thinking model, the server's own 400 message in both body shapes, the API key,
and the injected faults: a 500, and a crash halfway through a streamed reply.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.sim.harness import SimServer
from tui.api.client import ApiClient
from tui.api.errors import ApiError
from tui.api.reply import Reply, StreamDelta
from tui.api.request import ChatRequest, CompletionRequest, Sampling
from tui.sim.demo import DEFAULT_MODEL, THINKING_MODEL


async def stream_all(client: ApiClient, request: ChatRequest | CompletionRequest) -> tuple[list[StreamDelta], Reply]:
    deltas: list[StreamDelta] = []
    async with client.stream(request) as stream:
        async for delta in stream:
            deltas.append(delta)
    return deltas, stream.reply


async def test_list_models_gives_the_served_model(sim_url: str) -> None:
    async with ApiClient(sim_url) as client:
        models = await client.list_models()
    assert len(models) == 1
    assert models[0].id.endswith(DEFAULT_MODEL) and models[0].owned_by == "vllm"
    assert models[0].max_model_len is not None and models[0].max_model_len > 0


async def test_chat_whole_and_streamed_agree(sim_url: str) -> None:
    request = ChatRequest.single("What is an NPU?", sampling=Sampling(max_tokens=24, seed=7, temperature=0))
    async with ApiClient(sim_url) as client:
        whole = await client.chat(request)
        deltas, streamed = await stream_all(client, request)
    assert whole.error is None and streamed.error is None and not streamed.partial
    assert whole.text and streamed.text == whole.text == "".join(d.text for d in deltas)
    assert whole.finish_reason == streamed.finish_reason == "length"
    assert whole.usage is not None and whole.usage.completion_tokens == 24
    assert streamed.usage is not None and streamed.usage.completion_tokens == 24  # from the usage-only chunk
    assert streamed.timings.output_tokens == 24 and not streamed.timings.output_tokens_estimated
    assert streamed.timings.ttft_ms is not None and streamed.timings.e2e_ms is not None
    assert streamed.timings.e2e_ms >= streamed.timings.ttft_ms
    assert streamed.timings.tokens_per_s is not None and streamed.timings.tokens_per_s > 0
    assert len(streamed.timings.gaps_ms) == 23
    assert whole.timings.ttft_ms is None and whole.timings.e2e_ms is not None


async def test_stream_without_include_usage_estimates_and_says_so(sim_url: str) -> None:
    request = ChatRequest.single("hi", sampling=Sampling(max_tokens=10, include_usage=False,
                                                         extra={"ignore_eos": True}))
    async with ApiClient(sim_url) as client:
        _, reply = await stream_all(client, request)
    assert reply.usage is None and reply.timings.output_tokens_estimated
    assert reply.timings.output_tokens == 10


async def test_completion_whole_and_streamed_with_logprobs(sim_url: str) -> None:
    request = CompletionRequest("The capital of France is", sampling=Sampling(max_tokens=6, logprobs=2, seed=1))
    async with ApiClient(sim_url) as client:
        whole = await client.complete(request)
        deltas, streamed = await stream_all(client, request)
    assert whole.text and streamed.text == whole.text
    assert streamed.logprobs is not None and len(streamed.logprobs) == 6
    assert all(len(token.top) == 2 for token in streamed.logprobs)
    assert whole.logprobs is not None and [t.token for t in whole.logprobs] == [t.token for t in streamed.logprobs]
    assert sum(1 for d in deltas if d.logprobs) == 6


async def test_chat_logprobs_stream_top_alternatives(sim_url: str) -> None:
    request = ChatRequest.single("hi", sampling=Sampling(max_tokens=4, logprobs=3, extra={"ignore_eos": True}))
    async with ApiClient(sim_url) as client:
        _, reply = await stream_all(client, request)
    assert reply.logprobs is not None and len(reply.logprobs) == 4
    assert all(len(token.top) == 3 and token.logprob is not None for token in reply.logprobs)


async def test_thinking_model_reasoning_apart_streamed_and_whole(thinking_url: str) -> None:
    request = ChatRequest.single("Why is the sky blue?", sampling=Sampling(max_tokens=400, seed=3))
    async with ApiClient(thinking_url) as client:
        whole = await client.chat(request)
        deltas, streamed = await stream_all(client, request)
        off = await client.chat(ChatRequest.single("hi", sampling=Sampling(
            max_tokens=20, extra={"chat_template_kwargs": {"enable_thinking": False}})))
    assert whole.reasoning and whole.text and whole.finish_reason == "stop"
    # the sim sends the same text under `reasoning` and `reasoning_content`: taken once
    assert streamed.reasoning == whole.reasoning and streamed.text == whole.text
    assert "".join(d.reasoning for d in deltas) == whole.reasoning
    first_text = next(i for i, d in enumerate(deltas) if d.text)
    assert all(not d.text for d in deltas[:first_text]) and all(not d.reasoning for d in deltas[first_text:])
    assert streamed.timings.ttft_ms is not None  # thinking tokens count as first tokens
    assert off.reasoning == "" and off.text


@pytest.mark.parametrize("field", ["reasoning", "reasoning_content"])
async def test_either_reasoning_field(own_sim: Callable[..., SimServer], field: str) -> None:
    server = own_sim(THINKING_MODEL, env={"NPU_CONSOLE_SIM_REASONING_FIELD": field})
    async with ApiClient(server.url) as client:
        _, reply = await stream_all(client, ChatRequest.single("hi", sampling=Sampling(max_tokens=12)))
    assert reply.reasoning and reply.error is None


async def test_400_shows_the_servers_own_message_whole_and_streamed(sim_url: str) -> None:
    request = ChatRequest.single("hi", sampling=Sampling(max_tokens=10_000_000))
    async with ApiClient(sim_url) as client:
        whole = await client.chat(request)
        _, streamed = await stream_all(client, request)
        unknown = await client.chat(ChatRequest.single("hi", model="no-such-model"))
    for reply in (whole, streamed):
        assert reply.status == 400 and not reply.partial and reply.text == ""
        assert reply.error is not None
        assert "answered 400 Bad Request: This model's maximum context length is" in reply.error
    assert unknown.status == 404 and unknown.error is not None
    assert unknown.error.endswith("The model `no-such-model` does not exist.")


async def test_older_flat_error_body(own_sim: Callable[..., SimServer]) -> None:
    server = own_sim(env={"NPU_CONSOLE_SIM_ERROR_SHAPE": "flat"})
    async with ApiClient(server.url) as client:
        reply = await client.chat(ChatRequest.single("hi", sampling=Sampling(max_tokens=10_000_000)))
    assert reply.error is not None and "This model's maximum context length is" in reply.error


async def test_fault_error_500(sim_url: str) -> None:
    async with ApiClient(sim_url, headers={"X-Sim-Fault": "error-500"}) as client:
        _, streamed = await stream_all(client, ChatRequest.single("hi"))
        whole = await client.complete(CompletionRequest("hi"))
    for reply in (streamed, whole):
        assert reply.status == 500
        assert reply.error == (f"{sim_url}{'/v1/chat/completions' if reply is streamed else '/v1/completions'} "
                               "answered 500 Internal Server Error: EngineCore encountered an issue. "
                               "See stack trace (above) for the root cause.")


async def test_fault_die_midstream_keeps_the_partial_text(own_sim: Callable[..., SimServer]) -> None:
    server = own_sim()
    request = ChatRequest.single("Tell me a story", sampling=Sampling(max_tokens=40, extra={"ignore_eos": True}))
    async with ApiClient(server.url, headers={"X-Sim-Fault": "die-midstream"}) as client:
        deltas, reply = await stream_all(client, request)
    assert reply.partial and reply.text and reply.text == "".join(d.text for d in deltas)
    assert reply.finish_reason is None and reply.usage is None
    assert reply.error is not None
    assert reply.error.startswith(f"{server.url} closed the stream before the reply finished")
    assert f"the {len(reply.text)} characters that arrived are kept" in reply.error
    assert reply.timings.output_tokens_estimated and reply.timings.output_tokens == len(deltas)
    assert server.process is not None and server.process.wait(timeout=10) != 0  # it really crashed


async def test_api_key_from_the_named_variable(own_sim: Callable[..., SimServer]) -> None:
    server = own_sim(DEFAULT_MODEL, "--api-key", "sekret")
    async with ApiClient(server.url, api_key_env="MY_KEY", env={"MY_KEY": "sekret"}) as client:
        assert len(await client.list_models()) == 1
        assert (await client.chat(ChatRequest.single("hi", sampling=Sampling(max_tokens=2)))).error is None
    async with ApiClient(server.url, api_key_env="MY_KEY", env={}) as client:
        reply = await client.chat(ChatRequest.single("hi"))
        with pytest.raises(ApiError) as raised:
            await client.list_models()
    assert reply.status == 401 and reply.error is not None and "$MY_KEY is not set" in reply.error
    assert raised.value.status == 401 and raised.value.message == "Unauthorized"


async def test_timings_follow_the_servers_latency(own_sim: Callable[..., SimServer]) -> None:
    """Lower bounds only (a sleep is never shorter): TTFT covers the prefill, the rate stays under 1/TPOT."""
    server = own_sim(env={"NPU_CONSOLE_SIM_TTFT_MS": "80", "NPU_CONSOLE_SIM_TPOT_MS": "10"})
    request = ChatRequest.single("hi", sampling=Sampling(max_tokens=10, extra={"ignore_eos": True}))
    async with ApiClient(server.url) as client:
        reply = await client.stream(request).collect()
    timings = reply.timings
    assert timings.ttft_ms is not None and timings.ttft_ms >= 80
    assert timings.first_chunk_ms is not None and timings.first_chunk_ms <= timings.ttft_ms
    assert timings.e2e_ms is not None and timings.e2e_ms - timings.ttft_ms >= 9 * 10
    assert timings.output_tokens == 10 and timings.tokens_per_s is not None and timings.tokens_per_s <= 100
    assert timings.tpot_ms is not None and timings.tpot_ms >= 10
    assert len(timings.gaps_ms) == 9 and sum(timings.gaps_ms) == pytest.approx(timings.e2e_ms - timings.ttft_ms)
