"""The SSE reader and the stream assembler on crafted bytes: every way a real stream misbehaves.

Each case is a body as a server sends it, cut into network reads at awkward
places; the result must not depend on where the cuts fall.
"""

from __future__ import annotations

import json

import pytest

from tui.api.assemble import read_stream
from tui.api.sse import SSEDecoder, SSEEvent, SSEProtocolError, decode_all


def chat_chunk(content: str | None = None, *, finish: str | None = None, **delta_fields: object) -> bytes:
    delta: dict[str, object] = dict(delta_fields)
    if content is not None:
        delta["content"] = content
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    body = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "m", "choices": [choice]}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def usage_chunk(prompt: int, completion: int) -> bytes:
    usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    body = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "m", "choices": [], "usage": usage}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


DONE = b"data: [DONE]\n\n"


def every_split(body: bytes) -> list[list[bytes]]:
    """The body whole, byte by byte, and cut at each position into two reads."""
    cuts = [[body], [body[i : i + 1] for i in range(len(body))]]
    cuts += [[body[:i], body[i:]] for i in range(1, len(body))]
    return cuts


# ------------------------------------------------------------------------------------ raw SSE


def test_events_keep_alive_comments_and_multiline_data() -> None:
    body = b": ping\n\nevent: update\ndata: first line\ndata: second line\nid: 7\n\n: ping - 2024\ndata:x\n\n"
    for reads in every_split(body):
        events, decoder = decode_all(reads)
        assert events == [
            SSEEvent(data="first line\nsecond line", event="update", id="7"),
            SSEEvent(data="x", event="message", id="7"),
        ]
        assert decoder.comments == 2 and not decoder.truncated


@pytest.mark.parametrize("newline", [b"\r\n", b"\r", b"\n"])
def test_crlf_lone_cr_and_lf_line_ends_even_split_between_reads(newline: bytes) -> None:
    body = (b"data: a" + newline + newline + b"data: b" + newline + b"data: c" + newline + newline)
    for reads in every_split(body):
        events, decoder = decode_all(reads)
        assert [e.data for e in events] == ["a", "b\nc"], reads
        assert not decoder.truncated


def test_utf8_character_split_across_reads_and_a_bom() -> None:
    body = "\ufeffdata: 你好，NPU\n\n".encode()
    for reads in every_split(body):
        events, _ = decode_all(reads)
        assert [e.data for e in events] == ["你好，NPU"]


def test_blank_line_without_data_dispatches_nothing_and_drops_the_event_type() -> None:
    events, _ = decode_all([b"event: ping\n\ndata: x\n\n"])
    assert events == [SSEEvent("x")]


def test_field_without_colon_space_and_retry() -> None:
    events, _ = decode_all([b"data\nretry: 3000\n\ndata:  two spaces\n\n"])
    assert events[0] == SSEEvent(data="", retry_ms=3000)
    assert events[1].data == " two spaces"


def test_pending_data_is_delivered_at_end_of_body_without_blank_line() -> None:
    events, decoder = decode_all([b'data: {"a": 1}\n'])
    assert [e.data for e in events] == ['{"a": 1}'] and not decoder.truncated


def test_a_line_cut_in_the_middle_is_reported_as_truncated() -> None:
    events, decoder = decode_all([b"data: one\n\n", b'data: {"choi'])
    assert [e.data for e in events] == ["one"] and decoder.truncated


def test_a_line_that_never_ends_is_refused_past_the_bound() -> None:
    decoder = SSEDecoder(max_line_chars=100)
    decoder.feed(b"data: " + b"x" * 90)
    with pytest.raises(SSEProtocolError):
        decoder.feed(b"x" * 20)


# ---------------------------------------------------------------------------- OpenAI streams


def test_vllm_chat_stream_with_role_chunk_usage_only_chunk_and_done() -> None:
    body = (
        chat_chunk("", role="assistant")
        + b": keep-alive\n\n"
        + chat_chunk("Hello")
        + chat_chunk(", world")
        + chat_chunk("", finish="stop")
        + usage_chunk(12, 3)
        + DONE
    )
    for reads in every_split(body)[:2]:
        outcome = read_stream(reads)
        reply = outcome.reply
        assert [d.text for d in outcome.deltas] == ["Hello", ", world", ""]
        assert outcome.deltas[-1].finish_reason == "stop"
        assert reply.text == "Hello, world" and reply.finish_reason == "stop"
        assert reply.usage is not None and reply.usage.completion_tokens == 3 and reply.usage.prompt_tokens == 12
        assert reply.timings.output_tokens == 3 and not reply.timings.output_tokens_estimated
        assert reply.error is None and not reply.partial
        assert outcome.comments == 1


def test_missing_done_after_a_finish_reason_is_a_complete_reply() -> None:
    """`transformers serve` never sends `[DONE]`: its last chunk has the finish reason and the usage."""
    last = json.dumps({"choices": [{"delta": {}, "index": 0, "finish_reason": "length"}],
                       "usage": {"completion_tokens": 2, "prompt_tokens": 5, "total_tokens": 7}})
    body = chat_chunk(role="assistant") + chat_chunk("ab") + chat_chunk("cd") + f"data: {last}\n\n".encode()
    reply = read_stream([body]).reply
    assert reply.text == "abcd" and reply.finish_reason == "length" and not reply.partial and reply.error is None
    assert reply.usage is not None and reply.usage.completion_tokens == 2


def test_no_usage_means_an_estimate_labelled_as_such() -> None:
    reply = read_stream([chat_chunk("a") + chat_chunk("b") + chat_chunk("c", finish="stop") + DONE]).reply
    assert reply.usage is None
    assert reply.timings.output_tokens == 3 and reply.timings.output_tokens_estimated


@pytest.mark.parametrize("field", ["reasoning", "reasoning_content"])
def test_reasoning_deltas_under_either_name(field: str) -> None:
    body = (chat_chunk("", role="assistant") + chat_chunk(**{field: "Let me think."})
            + chat_chunk(**{field: " Done."}) + chat_chunk("Answer.", finish="stop") + DONE)
    outcome = read_stream([body])
    assert outcome.reply.reasoning == "Let me think. Done." and outcome.reply.text == "Answer."
    assert [d.reasoning for d in outcome.deltas] == ["Let me think.", " Done.", ""]


def test_reasoning_under_both_names_is_not_doubled() -> None:
    body = chat_chunk(reasoning="Hmm", reasoning_content="Hmm") + chat_chunk("ok", finish="stop") + DONE
    assert read_stream([body]).reply.reasoning == "Hmm"


def test_error_object_inside_the_stream_keeps_the_text_and_quotes_the_server() -> None:
    error = {"error": {"message": "EngineCore encountered an issue.", "type": "InternalServerError", "code": 500}}
    body = chat_chunk("Par") + chat_chunk("tial") + b"data: " + json.dumps(error).encode() + b"\n\n" + DONE
    reply = read_stream([body]).reply
    assert reply.text == "Partial" and reply.partial
    assert reply.error == "the server reported an error mid-stream: EngineCore encountered an issue."


def test_older_vllm_flat_error_object_and_sse_error_event() -> None:
    flat = {"object": "error", "message": "Request aborted.", "type": "BadRequestError", "code": 400}
    reply = read_stream([chat_chunk("x") + b"data: " + json.dumps(flat).encode() + b"\n\n"]).reply
    assert reply.error is not None and reply.error.endswith("Request aborted.") and reply.partial
    reply = read_stream([chat_chunk("x") + b"event: error\ndata: overloaded\n\n"]).reply
    assert reply.error is not None and reply.error.endswith("overloaded") and reply.text == "x"


def test_connection_dropped_mid_event_keeps_the_partial_text() -> None:
    body = chat_chunk("Hello") + chat_chunk(" wor") + b'data: {"choices":[{"index":0,"delta":{"cont'
    outcome = read_stream([body])
    assert outcome.truncated
    assert outcome.reply.text == "Hello wor" and outcome.reply.partial
    assert outcome.reply.error is not None and "in the middle of an event" in outcome.reply.error
    assert "9 characters that arrived are kept" in outcome.reply.error


def test_stream_that_ends_cleanly_but_unfinished_is_partial() -> None:
    reply = read_stream([chat_chunk("Hello")]).reply
    assert reply.partial and reply.text == "Hello"
    assert reply.error is not None and "before the reply finished" in reply.error


def test_completion_stream_text_and_logprobs() -> None:
    def chunk(text: str, lp: float, finish: str | None = None) -> bytes:
        choice = {"index": 0, "text": text, "finish_reason": finish,
                  "logprobs": {"tokens": [text], "token_logprobs": [lp], "text_offset": [0],
                               "top_logprobs": [{text: lp, "zz": lp - 1}]}}
        return b"data: " + json.dumps({"object": "text_completion", "choices": [choice]}).encode() + b"\n\n"

    outcome = read_stream([chunk(" Paris", -0.1) + chunk(".", -0.5, "stop") + DONE])
    reply = outcome.reply
    assert reply.text == " Paris." and reply.finish_reason == "stop"
    assert reply.logprobs is not None and [t.token for t in reply.logprobs] == [" Paris", "."]
    assert reply.logprobs[0].top == ((" Paris", -0.1), ("zz", -1.1))


def test_chat_logprobs_per_delta() -> None:
    logprobs = {"content": [{"token": "Hi", "logprob": -0.2, "bytes": [72, 105],
                             "top_logprobs": [{"token": "Hi", "logprob": -0.2}, {"token": "Yo", "logprob": -2.0}]}]}
    body = b"data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": "Hi"}, "logprobs": logprobs,
                                                "finish_reason": "stop"}]}).encode() + b"\n\n"
    outcome = read_stream([body])
    assert outcome.deltas[0].logprobs is not None
    assert outcome.deltas[0].logprobs[0].top == (("Hi", -0.2), ("Yo", -2.0))


def test_inline_think_tags_split_across_deltas() -> None:
    pieces = ["<th", "ink>Let me", " see.</th", "ink>\n\nThe answer", " is 4."]
    body = b"".join(chat_chunk(p) for p in pieces) + chat_chunk("", finish="stop") + DONE
    outcome = read_stream([body])
    assert outcome.reply.reasoning == "Let me see." and outcome.reply.text == "\n\nThe answer is 4."
    assert "".join(d.text for d in outcome.deltas) == "\n\nThe answer is 4."
    assert "".join(d.reasoning for d in outcome.deltas) == "Let me see."


def test_orphan_close_tag_moves_earlier_answer_text_into_reasoning_in_the_reply() -> None:
    """Qwen3 thinking templates open `<think>` in the prompt; the reply only closes it."""
    pieces = ["Thinking", " hard", "</think>", "\n\nYes."]
    reply = read_stream([b"".join(chat_chunk(p) for p in pieces) + chat_chunk("", finish="stop")]).reply
    assert reply.reasoning == "Thinking hard" and reply.text == "\n\nYes."


def test_think_splitting_can_be_turned_off() -> None:
    reply = read_stream([chat_chunk("<think>x</think>y", finish="stop")], split_think_tags=False).reply
    assert reply.text == "<think>x</think>y" and reply.reasoning == ""


def test_events_that_are_not_json_are_skipped_not_fatal() -> None:
    reply = read_stream([chat_chunk("a") + b"data: <html>oops\n\n" + chat_chunk("b", finish="stop")]).reply
    assert reply.text == "ab" and reply.error is None


def test_continuous_usage_keeps_the_last_count() -> None:
    def chunk(text: str, done: int, finish: str | None = None) -> bytes:
        return b"data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}],
                                       "usage": {"prompt_tokens": 4, "completion_tokens": done,
                                                 "total_tokens": 4 + done}}).encode() + b"\n\n"

    reply = read_stream([chunk("a", 1) + chunk("b", 2) + chunk("c", 3, "length") + DONE]).reply
    assert reply.usage is not None and reply.usage.completion_tokens == 3


def test_other_choices_than_zero_are_ignored() -> None:
    body = (b'data: {"choices":[{"index":1,"delta":{"content":"other"}}]}\n\n'
            + chat_chunk("mine", finish="stop") + DONE)
    assert read_stream([body]).reply.text == "mine"
