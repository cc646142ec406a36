"""The simulated server's OpenAI-compatible API, over real HTTP on loopback."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.sim.harness import SimServer, wait_for
from tui.sim.demo import prepare_demo_host

CHAT = [{"role": "user", "content": "What is an NPU?"}]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimServer]:
    folder = tmp_path_factory.mktemp("api")
    sim = SimServer(prepare_demo_host(folder / "sim"), folder / "server.log")
    sim.start(env={"VLLM_LOG_STATS_INTERVAL": "0.2"}).wait_ready()
    yield sim
    sim.kill()


@pytest.fixture(scope="module")
def thinking(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimServer]:
    folder = tmp_path_factory.mktemp("thinking")
    sim = SimServer(prepare_demo_host(folder / "sim"), folder / "server.log")
    sim.start("Qwen3-4B-Thinking-2507", "--served-model-name", "qwen3-thinking", "--max-model-len", "40960")
    sim.wait_ready()
    yield sim
    sim.kill()


@pytest.fixture
def client(server: SimServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=20) as http:
        yield http


def sse_events(response: httpx.Response) -> list[Any]:
    """The decoded `data:` events of a streamed reply; `[DONE]` stays a string."""
    events: list[Any] = []
    for line in response.iter_lines():
        if line.startswith("data: "):
            payload = line[len("data: ") :]
            events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events


def metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)}(?:\{{[^}}]*\}})? ([\d.e+-]+)$", text, re.MULTILINE)
    assert match, f"{name} not in /metrics"
    return float(match.group(1))


def test_models_lists_the_served_model(client: httpx.Client, server: SimServer) -> None:
    data = client.get("/v1/models").json()
    model = data["data"][0]
    assert data["object"] == "list" and model["id"].endswith("Qwen2.5-0.5B-Instruct")
    assert model["owned_by"] == "vllm" and model["max_model_len"] == 32768 and model["root"] == model["id"]


def test_health_version_and_tokenizer_endpoints(client: httpx.Client) -> None:
    health = client.get("/health")
    assert health.status_code == 200 and health.content == b""
    assert client.get("/version").json() == {"version": "0.18.0"}
    tokens = client.post("/tokenize", json={"prompt": "Hello NPU 你好"}).json()
    assert tokens["count"] == len(tokens["tokens"]) and tokens["max_model_len"] == 32768
    assert client.post("/detokenize", json={"tokens": tokens["tokens"]}).json() == {"prompt": "Hello NPU 你好"}
    assert client.post("/detokenize", json={"tokens": [-5]}).status_code == 400


def test_completion_usage_agrees_with_tokenize(client: httpx.Client) -> None:
    prompt = "The capital of France is"
    body = client.post("/v1/completions", json={"prompt": prompt, "max_tokens": 16}).json()
    choice = body["choices"][0]
    assert body["object"] == "text_completion" and body["id"].startswith("cmpl-")
    assert choice["finish_reason"] == "length" and choice["text"]
    assert body["usage"]["completion_tokens"] == 16
    assert body["usage"]["prompt_tokens"] == client.post("/tokenize", json={"prompt": prompt}).json()["count"]
    again = client.post("/v1/completions", json={"prompt": prompt, "max_tokens": 16}).json()
    assert again["choices"][0]["text"] == choice["text"], "same request, same text"


def test_chat_completion_counts_like_vllm(client: httpx.Client) -> None:
    body = client.post("/v1/chat/completions", json={"messages": CHAT, "max_tokens": 500}).json()
    message = body["choices"][0]["message"]
    assert body["object"] == "chat.completion" and message["role"] == "assistant"
    assert body["choices"][0]["finish_reason"] == "stop"
    prompt_count = client.post("/tokenize", json={"messages": CHAT}).json()["count"]
    assert body["usage"]["prompt_tokens"] == prompt_count
    content_count = client.post("/tokenize", json={"prompt": message["content"]}).json()["count"]
    assert body["usage"]["completion_tokens"] == content_count + 1, "the EOS token is counted, not shown"
    assert body["usage"]["total_tokens"] == prompt_count + content_count + 1


def test_streamed_chat_with_include_usage(client: httpx.Client) -> None:
    request = {"messages": CHAT, "max_tokens": 40, "seed": 3, "temperature": 0.7}
    whole = client.post("/v1/chat/completions", json=request).json()
    with client.stream(
        "POST",
        "/v1/chat/completions",
        json={**request, "stream": True, "stream_options": {"include_usage": True}},
    ) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        assert reply.headers["transfer-encoding"] == "chunked"
        events = sse_events(reply)
    assert events[-1] == "[DONE]"
    usage_event, token_events = events[-2], events[1:-2]
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert usage_event["choices"] == [] and usage_event["usage"] == {
        "prompt_tokens": whole["usage"]["prompt_tokens"],
        "total_tokens": whole["usage"]["total_tokens"],
        "completion_tokens": whole["usage"]["completion_tokens"],
    }
    assert len(token_events) == whole["usage"]["completion_tokens"], "one event per generated token"
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in token_events)
    assert text == whole["choices"][0]["message"]["content"]
    assert token_events[-1]["choices"][0]["finish_reason"] == whole["choices"][0]["finish_reason"]
    assert all(e["object"] == "chat.completion.chunk" and e["id"] == events[0]["id"] for e in events[:-1])


def test_streamed_completion_without_usage(client: httpx.Client) -> None:
    with client.stream("POST", "/v1/completions", json={"prompt": "Hi", "max_tokens": 5, "stream": True}) as reply:
        events = sse_events(reply)
    assert events[-1] == "[DONE]" and len(events) == 6
    assert [e["choices"][0]["finish_reason"] for e in events[:-1]] == [None] * 4 + ["length"]
    assert all("usage" not in e for e in events[:-1])


def test_thinking_model_streams_reasoning_before_the_answer(thinking: SimServer) -> None:
    with httpx.Client(base_url=thinking.url, timeout=20) as http:
        assert http.get("/v1/models").json()["data"][0]["id"] == "qwen3-thinking"
        request = {"model": "qwen3-thinking", "messages": CHAT, "max_tokens": 1000}
        whole = http.post("/v1/chat/completions", json=request).json()["choices"][0]["message"]
        with http.stream("POST", "/v1/chat/completions", json={**request, "stream": True}) as reply:
            deltas = [e["choices"][0]["delta"] for e in sse_events(reply)[1:-1]]
    assert whole["reasoning"] and whole["reasoning"] == whole["reasoning_content"]
    assert whole["content"].startswith("\n\n") and "</think>" not in whole["content"]
    kinds = ["reasoning" if "reasoning" in d else "content" for d in deltas]
    assert kinds.index("content") > 0 and "reasoning" not in kinds[kinds.index("content") :]
    assert "".join(d.get("reasoning", "") for d in deltas) == whole["reasoning"]
    assert "".join(d.get("content", "") for d in deltas) == whole["content"]


def test_errors_have_vllms_bodies_and_statuses(client: httpx.Client, server: SimServer) -> None:
    bad_json = client.post("/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"})
    assert bad_json.status_code == 400
    assert (
        bad_json.json()["error"]["type"] == "BadRequestError"
        and "JSON decode error" in bad_json.json()["error"]["message"]
    )
    missing = client.post("/v1/chat/completions", json={"max_tokens": 5})
    assert missing.status_code == 400
    assert missing.json() == {
        "error": {
            "message": missing.json()["error"]["message"],
            "type": "BadRequestError",
            "param": None,
            "code": 400,
        }
    }
    assert "'loc': ('body', 'messages'), 'msg': 'Field required'" in missing.json()["error"]["message"]
    unknown = client.post("/v1/chat/completions", json={"model": "nope", "messages": CHAT})
    assert unknown.status_code == 404
    assert unknown.json()["error"] == {
        "message": "The model `nope` does not exist.",
        "type": "NotFoundError",
        "param": None,
        "code": 404,
    }
    too_long = client.post("/v1/completions", json={"prompt": "hi", "max_tokens": 40000})
    assert too_long.status_code == 400
    assert too_long.json()["error"]["message"].startswith("This model's maximum context length is 32768 tokens.")
    assert client.get("/v1/nothing").status_code == 404
    assert client.get("/v1/chat/completions").status_code == 405
    log = wait_for(lambda: server.log() if '"POST /v1/completions HTTP/1.1" 400 Bad Request' in server.log() else "")
    assert re.search(
        r'^\(APIServer pid=\d+\) INFO:     127\.0\.0\.1:\d+ - "POST /v1/chat/completions HTTP/1\.1" '
        r"404 Not Found$",
        log,
        re.MULTILINE,
    )


def test_metrics_move_with_each_request(client: httpx.Client) -> None:
    before = client.get("/metrics")
    assert before.headers["content-type"].startswith("text/plain; version=0.0.4")
    body = client.post("/v1/completions", json={"prompt": "Count me", "max_tokens": 7}).json()
    after = client.get("/metrics").text
    usage = body["usage"]
    assert (
        metric(after, "vllm:prompt_tokens_total") - metric(before.text, "vllm:prompt_tokens_total")
        == usage["prompt_tokens"]
    )
    assert metric(after, "vllm:generation_tokens_total") - metric(before.text, "vllm:generation_tokens_total") == 7
    success = 'vllm:request_success_total{engine="0",model_name="' + body["model"] + '",finished_reason="length"}'
    assert float(after.split(success + " ")[1].split()[0]) >= 1
    for name in ("vllm:time_to_first_token_seconds_count", "vllm:e2e_request_latency_seconds_count"):
        assert metric(after, name) == metric(before.text, name) + 1
    for gauge in ("vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc"):
        assert metric(after, gauge) == 0


def test_logprobs_echo_and_stop(client: httpx.Client) -> None:
    chat = client.post(
        "/v1/chat/completions", json={"messages": CHAT, "max_tokens": 6, "logprobs": True, "top_logprobs": 3}
    ).json()
    content = chat["choices"][0]["logprobs"]["content"]
    assert len(content) == 6 and all(len(item["top_logprobs"]) == 3 for item in content)
    assert all(item["logprob"] <= 0 and item["top_logprobs"][0]["logprob"] == item["logprob"] for item in content)
    completion = client.post(
        "/v1/completions",
        json={"prompt": "Echo this", "max_tokens": 4, "echo": True, "logprobs": 2, "prompt_logprobs": 1},
    ).json()
    choice = completion["choices"][0]
    assert choice["text"].startswith("Echo this")
    assert choice["prompt_logprobs"][0] is None and len(choice["logprobs"]["tokens"]) > 4
    stopped = client.post(
        "/v1/completions", json={"prompt": "hi", "max_tokens": 300, "stop": ["."], "ignore_eos": True}
    ).json()["choices"][0]
    assert stopped["finish_reason"] == "stop" and stopped["stop_reason"] == "." and "." not in stopped["text"]
    bad = client.post("/v1/chat/completions", json={"messages": CHAT, "logprobs": True, "top_logprobs": 99})
    assert bad.status_code == 400


def test_keep_alive_and_pipelining_on_one_connection(server: SimServer) -> None:
    body = json.dumps({"prompt": "pipelined", "max_tokens": 3}).encode()
    one = (
        b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%b" % (len(body), body)
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(one * 3 + b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", received)
    assert statuses == [b"200"] * 4
    assert received.count(b'"object":"text_completion"') == 3 and b"server: uvicorn" in received


def test_periodic_stats_line_follows_activity(client: httpx.Client, server: SimServer) -> None:
    client.post("/v1/completions", json={"prompt": "busy", "max_tokens": 50, "ignore_eos": True})
    pattern = (
        r"^\(APIServer pid=\d+\) INFO \d\d-\d\d \d\d:\d\d:\d\d \[loggers\.py:\d+\] Engine 000: "
        r"Avg prompt throughput: \d+\.\d tokens/s, Avg generation throughput: (\d+\.\d) tokens/s, "
        r"Running: \d+ reqs, Waiting: \d+ reqs, GPU KV cache usage: \d+\.\d%, "
        r"Prefix cache hit rate: \d+\.\d%$"
    )
    found = wait_for(
        lambda: [m for m in re.finditer(pattern, server.log(), re.MULTILINE) if float(m.group(1)) > 0],
        what="an Engine 000 stats line with generation throughput",
    )
    assert found
