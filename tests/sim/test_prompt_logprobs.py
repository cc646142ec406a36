"""The sim's prompt logprobs as vLLM gives them: `prompt_logprobs`, echo + logprobs, token-id prompts."""

from __future__ import annotations

from tui.sim import api_protocol as proto
from tui.sim import textgen

CTX = proto.ServingContext(served_names=("m",), max_model_len=4096, max_logprobs=20, thinking_model=False,
                           default_system=None, force_include_usage=False)


def completion(body: dict[str, object]) -> dict[str, object]:
    req = proto.parse_completion({"model": "m", "max_tokens": 1, **body}, CTX)
    generations = [textgen.generate(ids, req.max_tokens[i], temperature=0) for i, ids in enumerate(req.prompt_ids)]
    return proto.completion_response(req, generations)


def test_prompt_logprobs_for_token_ids_have_k_entries_and_a_null_first() -> None:
    ids = textgen.encode("The capital of France is")
    choice = completion({"prompt": ids, "prompt_logprobs": 5, "logprobs": 5})["choices"][0]  # type: ignore[index]
    entries = choice["prompt_logprobs"]
    assert len(entries) == len(ids) and entries[0] is None
    for token_id, entry in zip(ids[1:], entries[1:], strict=True):
        assert len(entry) == 5 and entry[str(token_id)]["rank"] == 1
        assert sorted(item["rank"] for item in entry.values()) == [1, 2, 3, 4, 5]
        assert all(item["decoded_token"] == textgen.token_text(int(key)) for key, item in entry.items())


def test_echo_with_logprobs_starts_with_nulls_like_vllm() -> None:
    ids = textgen.encode("Hello there")
    logprobs = completion({"prompt": ids, "echo": True, "logprobs": 3})["choices"][0]["logprobs"]  # type: ignore[index]
    assert logprobs["token_logprobs"][0] is None and logprobs["top_logprobs"][0] is None
    assert len(logprobs["tokens"]) == len(ids) + 1  # the prompt, then the one generated token
    assert all(len(top) == 3 for top in logprobs["top_logprobs"][1:])


def test_prompt_logprobs_above_the_server_maximum_are_refused() -> None:
    try:
        proto.parse_completion({"model": "m", "prompt": [1, 2], "prompt_logprobs": 21}, CTX)
    except proto.ApiError as error:
        assert error.status == 400
        assert error.message == "Requested prompt logprobs of 21, which is greater than max allowed: 20"
    else:
        raise AssertionError("prompt_logprobs 21 was accepted")
