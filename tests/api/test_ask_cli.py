"""`npu-console ask` in this process (argparse + capsys) and once as a real subprocess, against real servers."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from collections.abc import Callable, Mapping

import pytest

from tests.api.conftest import RawServer, silent
from tests.sim.harness import SimServer, free_port
from tui.commands import ask
from tui.sim.demo import THINKING_MODEL

StartRaw = Callable[[Callable[..., None]], RawServer]
CONTRACT_KEYS = {"text", "reasoning", "finish_reason", "ttft_ms", "e2e_ms", "output_tokens", "usage"}


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="npu-console ask")
    ask.add_arguments(parser)
    return parser.parse_args(argv)


def run_ask(argv: list[str], env: Mapping[str, str] | None = None) -> int:
    return ask.run(parse(argv), env=env)


def test_streams_the_answer_to_stdout_and_figures_to_stderr(sim_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_ask(["--url", sim_url, "--temperature", "0", "--max-tokens", "16", "Hello"]) == 0
    streamed = capsys.readouterr()
    assert run_ask(["--url", sim_url, "--temperature", "0", "--max-tokens", "16", "--no-stream", "Hello"]) == 0
    whole = capsys.readouterr()
    assert streamed.out.strip() and streamed.out == whole.out and streamed.out.endswith("\n")
    assert "16 tokens" in streamed.err and "finish length" in streamed.err and "tok/s" in streamed.err
    assert "ttft N/A" in whole.err  # a whole reply has no first-token time


def test_thinking_goes_to_stderr_and_the_answer_alone_to_stdout(
    own_sim: Callable[..., SimServer], capsys: pytest.CaptureFixture[str]
) -> None:
    server = own_sim(THINKING_MODEL)
    assert run_ask(["--url", server.url, "--max-tokens", "300", "Why?"]) == 0
    printed = capsys.readouterr()
    assert "thinking: " in printed.err and "thinking" not in printed.out
    assert printed.out.strip() and "finish stop" in printed.err


def test_json_prints_the_contract_object_and_nothing_else(sim_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_ask(["--url", f"{sim_url}/v1", "--json", "--max-tokens", "8", "--system", "Be brief.", "hi"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= CONTRACT_KEYS
    assert data["text"] and data["finish_reason"] in ("length", "stop")
    assert data["usage"]["completion_tokens"] == data["output_tokens"] <= 8
    assert data["ttft_ms"] is not None and data["e2e_ms"] >= data["ttft_ms"]
    assert data["error"] is None and data["partial"] is False


def test_completion_mode_and_prompt_from_stdin(
    sim_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("The capital of France is"))
    assert run_ask(["--url", sim_url, "--completion", "--max-tokens", "5", "--json", "-"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["text"] and data["usage"]["prompt_tokens"] > 0


def test_server_error_exits_1_with_the_servers_message(sim_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_ask(["--url", sim_url, "--max-tokens", "99999999", "hi"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("npu-console ask: ") and "This model's maximum context length is" in err
    assert err.count("\n") == 1


def test_server_dying_mid_stream_exits_1_and_keeps_the_text(
    own_sim: Callable[..., SimServer], capsys: pytest.CaptureFixture[str]
) -> None:
    server = own_sim(env={"NPU_CONSOLE_SIM_FAULT": "die-midstream"})
    assert run_ask(["--url", server.url, "--max-tokens", "40", "Tell me more"]) == 1
    printed = capsys.readouterr()
    assert printed.out.strip(), "the text that arrived before the crash is printed"
    assert f"npu-console ask: {server.url} closed the stream before the reply finished" in printed.err


def test_server_dying_mid_stream_in_json_mode(
    own_sim: Callable[..., SimServer], capsys: pytest.CaptureFixture[str]
) -> None:
    server = own_sim(env={"NPU_CONSOLE_SIM_FAULT": "die-midstream"})
    assert run_ask(["--url", server.url, "--max-tokens", "40", "--json", "Tell me more"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["text"] and data["partial"] is True and "closed the stream" in data["error"]


def test_refused_and_silent_servers(raw_server: StartRaw, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert run_ask(["--url", url, "hi"]) == 1
    assert capsys.readouterr().err == (
        f"npu-console ask: No server is running at {url} (connection refused); start it with "
        "`npu-console serve --profile NAME` or press `l` in the console, then try again.\n"
    )
    server = raw_server(silent)
    assert run_ask(["--url", server.url, "--model", "m", "--first-byte-timeout", "0.3", "hi"]) == 1
    assert "accepted the connection but sent nothing for 0.3 s" in capsys.readouterr().err


def test_api_key_env(own_sim: Callable[..., SimServer], capsys: pytest.CaptureFixture[str]) -> None:
    server = own_sim("Qwen2.5-0.5B-Instruct", "--api-key", "sekret")
    assert run_ask(["--url", server.url, "--api-key-env", "K", "--max-tokens", "3", "hi"], env={"K": "sekret"}) == 0
    capsys.readouterr()
    assert run_ask(["--url", server.url, "--api-key-env", "K", "hi"], env={"K": "wrong"}) == 1
    err = capsys.readouterr().err
    assert "401 Unauthorized: Unauthorized (check the API key in $K)" in err
    assert run_ask(["--url", server.url, "--api-key-env", "K", "--json", "hi"], env={"K": "wrong"}) == 1
    failed = capsys.readouterr()
    assert json.loads(failed.out)["error"] == failed.err.removeprefix("npu-console ask: ").rstrip("\n")
    assert run_ask(["--url", server.url, "--api-key-env", "K", "hi"], env={}) == 2
    assert "$K, which is not set" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["--url", "ftp://host", "hi"],
    ["--url", "http://host:port", "hi"],
    ["--url", "http://h:1", "--completion", "--system", "x", "hi"],
    ["--url", "http://h:1", "   "],
])
def test_bad_usage_exits_2_with_one_sentence(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert run_ask(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("npu-console ask: ") and err.count("\n") == 1


@pytest.mark.parametrize("argv", [
    ["--url", "http://h:1", "--max-tokens", "0", "hi"],
    ["--url", "http://h:1", "--top-p", "1.5", "hi"],
    ["--url", "http://h:1", "--temperature", "-1", "hi"],
    ["--url", "http://h:1", "--chat", "--completion", "hi"],
    ["hi"],
])
def test_argparse_rejects_bad_values_with_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        parse(argv)
    assert raised.value.code == 2


def _cli_has_ask() -> bool:
    from tui.cli import build_parser

    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return "ask" in action.choices
    return False


def test_as_a_real_subprocess(sim_url: str) -> None:
    if not _cli_has_ask():
        pytest.skip("tui/cli.py does not wire `ask` in yet (another change adds it); the in-process tests above "
                    "cover the command itself")
    result = subprocess.run(
        [sys.executable, "-m", "tui", "ask", "--url", sim_url, "--max-tokens", "12", "--temperature", "0", "Hello"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() and "12 tokens" in result.stderr
    failed = subprocess.run(
        [sys.executable, "-m", "tui", "ask", "--url", sim_url, "--max-tokens", "99999999", "Hello"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert failed.returncode == 1 and "maximum context length" in failed.stderr
