"""The small pure parts of the client: the think splitter, the timer, request bodies, curl, error messages."""

from __future__ import annotations

import json
import shlex

import pytest

from tui.api.curl import as_curl
from tui.api.errors import http_error_sentence, refused_sentence, server_message
from tui.api.request import ChatRequest, CompletionRequest, Message, Sampling, build_http_request, normalize_root
from tui.api.think import ThinkParts, ThinkSplitter, split_think
from tui.api.timing import StreamTimer, Timings, decode_rate

# ------------------------------------------------------------------------------------ think


def feed_all(pieces: list[str], **kwargs: bool) -> tuple[str, str]:
    splitter = ThinkSplitter(**kwargs)
    content, reasoning = [], []
    for piece in pieces:
        parts = splitter.feed(piece)
        content.append(parts.content)
        reasoning.append(parts.reasoning)
    last = splitter.flush()
    return "".join(content) + last.content, "".join(reasoning) + last.reasoning


def test_think_block_split_at_every_position() -> None:
    text = "Intro <think>step one\nstep two</think>Answer <b>bold</b> done"
    for cut in range(len(text) + 1):
        for second in range(cut, len(text) + 1):
            pieces = [text[:cut], text[cut:second], text[second:]]
            assert feed_all(pieces) == ("Intro Answer <b>bold</b> done", "step one\nstep two"), pieces


def test_partial_tag_is_held_back_then_released_when_it_is_not_a_tag() -> None:
    splitter = ThinkSplitter()
    assert splitter.feed("a <thi") == ThinkParts("a ", "")
    assert splitter.feed("s is not it") == ThinkParts("<this is not it", "")
    assert splitter.feed("x <") == ThinkParts("x ", "")
    assert splitter.flush() == ThinkParts("<", "")


def test_unclosed_think_block_stays_reasoning() -> None:
    assert feed_all(["<think>still thinking when max_tokens hit</th"]) == ("", "still thinking when max_tokens hit</th")


def test_start_in_think_for_templates_that_open_the_tag_in_the_prompt() -> None:
    assert feed_all(["reason", "ing</think>\n\nok"], start_in_think=True) == ("\n\nok", "reasoning")


def test_split_think_on_a_whole_reply_with_an_orphan_close() -> None:
    parts, orphan = split_think("I think so.</think>\n\nYes.")
    assert parts == ThinkParts("\n\nYes.", "I think so.") and orphan
    parts, orphan = split_think("plain answer")
    assert parts == ThinkParts("plain answer", "") and not orphan


# ------------------------------------------------------------------------------------ timing


def test_stream_timer_definitions_on_recorded_times() -> None:
    timer = StreamTimer(clock=lambda: pytest.fail("the clock must not be read when times are given"))
    timer.start(now=10.0)
    timer.chunk(has_choice=True, has_token=False, now=10.050)  # role-only chunk: vLLM's first chunk
    timer.chunk(has_choice=False, has_token=False, now=10.060)  # a keep-alive or usage: not a chunk
    timer.chunk(has_choice=True, has_token=True, now=10.100)  # first token
    timer.chunk(has_choice=True, has_token=True, now=10.120)
    timer.chunk(has_choice=True, has_token=True, now=10.150)
    timer.chunk(has_choice=True, has_token=False, now=10.160)  # finish_reason only
    timings = timer.finish(completion_tokens=4)
    assert timings.first_chunk_ms == pytest.approx(50)
    assert timings.ttft_ms == pytest.approx(100)
    assert timings.e2e_ms == pytest.approx(160)
    assert timings.gaps_ms == pytest.approx((20, 30, 10))
    assert sum(timings.gaps_ms) == pytest.approx(timings.e2e_ms - timings.ttft_ms)
    assert timings.output_tokens == 4 and not timings.output_tokens_estimated
    assert timings.tokens_per_s == pytest.approx(3 / 0.060)
    assert timings.tpot_ms == pytest.approx(20)
    assert timings.chunks == 5 and timings.streamed


def test_estimate_only_without_usage_and_none_for_what_cannot_be_measured() -> None:
    timer = StreamTimer()
    timer.start(now=0.0)
    timer.chunk(has_choice=True, has_token=True, now=0.5)
    timer.chunk(has_choice=True, has_token=True, now=1.0)
    timings = timer.finish(completion_tokens=None)
    assert timings.output_tokens == 2 and timings.output_tokens_estimated
    assert timings.tokens_per_s == pytest.approx(2.0)
    empty = StreamTimer()
    empty.start(now=0.0)
    nothing = empty.finish(completion_tokens=None)
    assert (nothing.ttft_ms, nothing.e2e_ms, nothing.output_tokens, nothing.tokens_per_s) == (None, None, None, None)
    assert decode_rate(1, 10.0, 20.0) is None and decode_rate(5, 10.0, 10.0) is None


def test_whole_reply_has_only_end_to_end() -> None:
    timer = StreamTimer()
    timer.start(now=1.0)
    timings = timer.finish_whole(7, now=1.25)
    assert timings == Timings(e2e_ms=250.0, output_tokens=7, streamed=False)
    assert timings.to_json()["ttft_ms"] is None and timings.to_json()["tokens_per_s"] is None


# ------------------------------------------------------------------------------- request bodies


def test_chat_body_sends_only_what_was_set_and_maps_logprobs() -> None:
    request = ChatRequest(
        (Message("user", "hi"),), model="m", system="Be brief.",
        sampling=Sampling(max_tokens=8, temperature=0.0, top_p=0.9, stop=("\n",), seed=3, presence_penalty=0.5,
                          frequency_penalty=0.25, repetition_penalty=1.1, logprobs=2,
                          extra={"chat_template_kwargs": {"enable_thinking": False}}),
    )
    assert request.body(stream=True) == {
        "model": "m",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
        "max_tokens": 8, "temperature": 0.0, "top_p": 0.9, "seed": 3, "presence_penalty": 0.5,
        "frequency_penalty": 0.25, "repetition_penalty": 1.1, "stop": ["\n"], "logprobs": True, "top_logprobs": 2,
        "stream": True, "stream_options": {"include_usage": True},
        "chat_template_kwargs": {"enable_thinking": False},
    }
    assert ChatRequest.single("hi").body(stream=False) == {"messages": [{"role": "user", "content": "hi"}]}


def test_system_is_not_added_twice_and_completion_logprobs_is_a_count() -> None:
    request = ChatRequest((Message("system", "mine"), Message("user", "q")), system="other")
    assert [m["role"] for m in request.body(stream=False)["messages"]] == ["system", "user"]
    body = CompletionRequest("The capital", sampling=Sampling(logprobs=3, include_usage=False)).body(stream=True)
    assert body == {"prompt": "The capital", "logprobs": 3, "stream": True}


@pytest.mark.parametrize(("typed", "root"), [
    ("127.0.0.1:8000", "http://127.0.0.1:8000"),
    ("http://host:8000/", "http://host:8000"),
    ("https://host/v1/", "https://host"),
])
def test_normalize_root(typed: str, root: str) -> None:
    assert normalize_root(typed) == root


# ------------------------------------------------------------------------------------ curl


def test_curl_is_the_exact_request_with_the_key_as_a_variable() -> None:
    prompt = "It's $HOME and \"quotes\"\nand 中文"
    http = build_http_request("http://127.0.0.1:8000", ChatRequest.single(prompt, model="m"), stream=True,
                              headers=(("X-Sim-Fault", "none"),), api_key_env="VLLM_API_KEY")
    command = as_curl(http)
    assert '-H "Authorization: Bearer $VLLM_API_KEY"' in command
    words = shlex.split(command.replace("\\\n", " "))
    assert words[:4] == ["curl", "-sS", "-N", "http://127.0.0.1:8000/v1/chat/completions"]
    body = words[words.index("-d") + 1]
    assert body.encode() == http.body
    assert json.loads(body)["messages"][0]["content"] == prompt
    assert "X-Sim-Fault: none" in words
    assert "Authorization: Bearer $VLLM_API_KEY" in words  # the shell expands it; we never see the secret


def test_curl_without_a_key_has_no_authorization() -> None:
    http = build_http_request("http://h:1", CompletionRequest("x"), stream=False)
    command = as_curl(http)
    assert "Authorization" not in command and " -N" not in command


# ----------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(("body", "message"), [
    (b'{"error": {"message": "max_tokens is too large", "type": "BadRequestError", "code": 400}}',
     "max_tokens is too large"),
    (b'{"object": "error", "message": "The model `x` does not exist.", "type": "NotFoundError", "code": 404}',
     "The model `x` does not exist."),
    (b'{"detail": "Server is pinned to \'/m\'; requested \'x\'."}', "Server is pinned to '/m'; requested 'x'."),
    (b'{"detail": [{"loc": ["body", "messages"], "msg": "Field required", "type": "missing"}]}',
     "body.messages: Field required"),
    (b'{"error": "Unauthorized"}', "Unauthorized"),
    (b"Internal Server Error", "Internal Server Error"),
    (b"\n<html>\n<h1>502 Bad Gateway</h1>", "<html>"),
    (b"", ""),
])
def test_server_message_from_every_known_body_shape(body: bytes, message: str) -> None:
    assert server_message(body) == message


def test_http_error_sentence_hints() -> None:
    sentence, _ = http_error_sentence("http://h/v1/models", 401, "Unauthorized", b'{"error":"Unauthorized"}',
                                      api_key_env="KEY", key_present=False)
    assert sentence == ("http://h/v1/models answered 401 Unauthorized: Unauthorized "
                        "(the API key variable $KEY is not set; export it and try again)")
    sentence, message = http_error_sentence("http://h/x", 400, "Bad Request", b'{"error":{"message":"bad"}}',
                                            api_key_env=None, key_present=False)
    assert (sentence, message) == ("http://h/x answered 400 Bad Request: bad", "bad")


def test_refused_sentence_is_one_sentence_that_says_how_to_start() -> None:
    sentence = refused_sentence("http://127.0.0.1:8000", "qwen2.5-0.5b")
    assert sentence == ("No server is running at http://127.0.0.1:8000 (connection refused); start it with "
                        "`npu-console serve --profile qwen2.5-0.5b` or press `l` in the console, then try again.")
