"""API mode against real servers on loopback: the simulated vLLM, a server without logprobs, `transformers serve`."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from tests.api.conftest import own_sim, sim_demo  # noqa: F401  (fixtures)
from tests.real_server import transformers_serve
from tests.sim.harness import SimServer
from tui.stages.precision.__main__ import main
from tui.stages.precision.api_mode import (
    NO_LOGPROBS_SENTENCE,
    ApiClient,
    base_url,
    compare_api,
    fetch_prompt,
)
from tui.stages.precision.forward import run_prompts
from tui.stages.precision.loading import load_model, load_tokenizer

INSTANT = {"NPU_CONSOLE_SIM_SPEED": "0", "NPU_CONSOLE_SIM_TTFT_MS": "0", "NPU_CONSOLE_SIM_TPOT_MS": "0"}
PROMPTS = ["The capital of France is", "Hello, how are you"]


def run_api(tmp_path: Path, capsys: pytest.CaptureFixture[str], model: Path, url: str,
            *extra: str) -> tuple[int, dict[str, Any]]:
    out = tmp_path / "api.json"
    argv = ["--model", str(model), "--url", url, "--json", str(out), "--csv", str(tmp_path / "api.csv"), *extra]
    for prompt in PROMPTS:
        argv += ["--prompt", prompt]
    code = main(argv)
    capsys.readouterr()
    return code, (json.loads(out.read_text()) if out.exists() else {})


@pytest.fixture
def sim(own_sim: Callable[..., SimServer]) -> SimServer:  # noqa: F811
    return own_sim(env=INSTANT)


def test_base_url_normalises() -> None:
    assert base_url("127.0.0.1:8000") == "http://127.0.0.1:8000"
    assert base_url("http://h:1/v1/") == "http://h:1"


def test_sim_prompt_logprobs_give_top1_and_top5_per_position(tiny_model: Path, sim: SimServer, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, result = run_api(tmp_path, capsys, tiny_model, sim.url)
    assert code == (0 if result["verdict"] == "PASS" else 1) and result["mode"] == "api"
    assert result["candidate"]["logprobs_source"] == "prompt_logprobs" and result["candidate"]["dtype"] is None
    summary = result["summary"]
    assert 0.0 <= summary["top1_agreement"] <= 1.0 and 0.0 <= summary["top5_overlap"] <= 1.0
    for key in ("cosine_min", "cosine_mean", "mse_mean", "max_abs_error", "kl_mean", "noise_floor_ratio"):
        assert summary[key] is None  # top-k logprobs cannot give these
    assert result["nan_inf"] is None and result["noise_floor"] is None
    # the sim is not the tiny model: when not one position agrees, the result says what that usually means
    if summary["top1_agreement"] == 0 and summary["top5_overlap"] == 0:
        assert result["notes"] and result["notes"][0].startswith("no position agrees with the reference at all")
        assert str(tiny_model) in result["notes"][0]
    else:
        assert result["notes"] == []
    for prompt in result["prompts"]:
        assert prompt["layers"] == [] and prompt["first_divergent_layer"] is None
        assert prompt["top1_agreement"] is not None and prompt["top5_overlap"] is not None
    # the sim ranks each prompt's own next token first, so on the prompt positions top-1 agreement is the
    # reference's agreement with the prompt itself; the last position (the sim's generated token) adds 0 or 1
    tokenizer = load_tokenizer(tiny_model)
    ids = [[int(i) for i in tokenizer(p)["input_ids"]] for p in PROMPTS]
    runs = run_prompts(load_model(tiny_model, "cpu", "float32"), ids, "cpu")
    for prompt, run, seq in zip(result["prompts"], runs, ids, strict=True):
        hits = sum(int(run.logits[j].argmax()) == seq[j + 1] for j in range(len(seq) - 1))
        assert prompt["tokens"] == len(seq)
        assert hits <= round(prompt["top1_agreement"] * len(seq)) <= hits + 1


class NoPromptLogprobs(ApiClient):
    """A client to a server that refuses vLLM's `prompt_logprobs` (as older vLLM and other servers do)."""

    def completion(self, body: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
        if "prompt_logprobs" in body:
            return None, "HTTP 400: unknown field prompt_logprobs"
        return super().completion(body)


def test_sim_echo_logprobs_are_the_fallback(tiny_model: Path, sim: SimServer) -> None:
    tokenizer = load_tokenizer(tiny_model)
    ids = [int(i) for i in tokenizer(PROMPTS[0])["input_ids"]]
    client = NoPromptLogprobs(sim.url, timeout=10)
    told = fetch_prompt(client, client.served_model(), ids, PROMPTS[0], 5, lambda text: [])
    assert told.source == "echo" and sorted(told.top) == list(range(len(ids)))
    assert all(len(top) == 5 and all(isinstance(key, str) for key, _ in top) for top in told.top.values())
    run = run_prompts(load_model(tiny_model, "cpu", "float32"), [ids], "cpu")[0]
    (result,) = compare_api([PROMPTS[0]], [ids], [told], [run.logits], lambda i: tokenizer.decode([i]))
    assert len(result.positions) == len(ids)
    assert all(p.top5_overlap is not None and p.top1_match is not None for p in result.positions)


class _TextOnlyHandler(BaseHTTPRequestHandler):
    """Like `transformers serve`: text prompts only, and `logprobs`/`echo` accepted but ignored."""

    def log_message(self, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._reply(200, {"object": "list", "data": [{"id": "text-only", "object": "model"}]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if not isinstance(body.get("prompt"), str):
            self._reply(400, {"detail": "prompt must be a string."})
            return
        self._reply(200, {"choices": [{"index": 0, "text": " Paris", "logprobs": None, "finish_reason": "length"}]})


@pytest.fixture
def text_only_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TextOnlyHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_a_server_without_logprobs_is_said_in_one_sentence(tiny_model: Path, text_only_url: str, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, result = run_api(tmp_path, capsys, tiny_model, text_only_url)
    assert result["notes"] == [
        f"the server at {text_only_url} returns no prompt logprobs (neither vLLM's prompt_logprobs nor echo with "
        "logprobs), so top-5 overlap cannot be measured through its API; only top-1 agreement on its greedy "
        "continuation is compared"]
    assert result["notes"][0] == NO_LOGPROBS_SENTENCE.format(url=text_only_url)
    assert result["candidate"]["logprobs_source"] == "greedy"
    assert result["summary"]["top5_overlap"] is None and result["summary"]["top1_agreement"] is not None
    assert code == (0 if result["verdict"] == "PASS" else 1)


def test_an_unreachable_server_exits_1_with_a_sentence(tiny_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.sim.harness import free_port

    url = f"http://127.0.0.1:{free_port()}"
    assert main(["--model", str(tiny_model), "--url", url, "--timeout", "5"]) == 1
    (event,) = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"error"' in line]
    assert event["message"].startswith(f"cannot reach the server at {url}/v1/models:")
    assert event["message"].endswith("is it running, and is --url right?")


@pytest.mark.slow
def test_transformers_serve_gives_greedy_top1_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with transformers_serve(tmp_path) as served:
        code, result = run_api(tmp_path, capsys, served.model_dir, served.url)
    assert result["notes"] == [NO_LOGPROBS_SENTENCE.format(url=served.url)]
    assert result["candidate"]["logprobs_source"] == "greedy"
    summary = result["summary"]
    assert summary["top5_overlap"] is None and summary["cosine_min"] is None
    # the same float32 weights on both sides: the server's greedy tokens are the reference's top-1
    assert summary["top1_agreement"] == 1.0, result
    assert code == 0 and result["verdict"] == "PASS"
