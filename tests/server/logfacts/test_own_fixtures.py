"""This repository's own logs (cases the shared corpus lacks) give their expected facts and hints."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tests.server.logfacts.corpus import OWN_LOGS, assert_facts_match, expected_pairs, read_log
from tests.server.logfacts.test_shared_corpus import random_pieces
from tui.server.logfacts import LogFacts, parse_log_text

PAIRS = expected_pairs(OWN_LOGS)


def facts_of(name: str) -> dict[str, object]:
    return parse_log_text(read_log(OWN_LOGS / name))


def test_every_own_log_has_an_expected_json() -> None:
    logs = {path.stem for path in OWN_LOGS.glob("*.log")}
    expected = {path.stem for path in (OWN_LOGS / "expected").glob("*.json")}
    assert logs == expected and len(logs) >= 7


@pytest.mark.parametrize(("log", "expected"), PAIRS)
def test_own_log_gives_its_expected_facts(log: Path, expected: Path) -> None:
    text = read_log(log)
    want = json.loads(expected.read_text(encoding="utf-8"))
    assert_facts_match(parse_log_text(text), want)
    reader = LogFacts()
    for piece in random_pieces(text, random.Random(log.name)):
        reader.feed(piece)
    reader.close()
    assert_facts_match(reader.facts(), want)


def kinds(facts: dict[str, object]) -> list[tuple[object, object]]:
    errors = facts["errors"]
    assert isinstance(errors, list)
    return [(error["kind"], error["code"]) for error in errors]


def root(facts: dict[str, object]) -> dict[str, object]:
    cause = facts["root_cause"]
    assert isinstance(cause, dict)
    return cause


def test_ez9903_before_the_cascade_is_the_root_cause() -> None:
    facts = facts_of("ascend-0.18-tp2-ez9903-profile-run.log")
    cause = root(facts)
    assert (cause["kind"], cause["code"], cause["line"]) == ("ascend_error", "EZ9903", 32)
    assert "EZ9903" in str(cause["hint"]) and "CANN" in str(cause["hint"])
    assert kinds(facts) == [("ascend_error", "EZ9903"), ("worker_died", None), ("ascend_error", "561103"),
                     ("ascend_error", "ERR00100"), ("engine_init_failed", None), ("ascend_error", "ERR99999")]
    assert facts["graph_capture_sizes"] == 24 and facts["tensor_parallel_size"] == 2


def test_cuda_oom_beats_the_engine_failure_before_it() -> None:
    facts = facts_of("cuda-0.11-ansi-oom-profile-run.log")
    cause = root(facts)
    assert cause["kind"] == "oom" and cause["line"] == 26
    assert "--max-model-len" in str(cause["hint"]) and "--gpu-memory-utilization" in str(cause["hint"])
    assert facts["compilation"] == "FULL_AND_PIECEWISE"


@pytest.mark.parametrize("name", ["ascend-0.18-port-in-use.log", "uvicorn-0.7.3-bind-after-startup.log"])
def test_port_in_use_says_stop_it_or_choose_another_port(name: str) -> None:
    facts = facts_of(name)
    cause = root(facts)
    assert cause["kind"] == "port_in_use" and cause["code"] is None
    assert "--port" in str(cause["hint"])


def test_bind_failure_after_startup_is_still_ready() -> None:
    facts = facts_of("uvicorn-0.7.3-bind-after-startup.log")
    assert facts["ready"] is True and facts["engine"] == "V0" and facts["compilation"] == "eager"


def test_quantization_and_remote_code_kinds() -> None:
    quantization = facts_of("ascend-0.18-fp8-unsupported-quantization.log")
    assert root(quantization)["kind"] == "unsupported_quantization"
    assert kinds(quantization) == [("traceback", None), ("unsupported_quantization", None)]
    remote = facts_of("cuda-0.9-trust-remote-code.log")
    assert root(remote)["kind"] == "trust_remote_code" and "--trust-remote-code" in str(root(remote)["hint"])


def test_hard_wrapped_records_are_joined_and_keep_their_first_line() -> None:
    facts = facts_of("cuda-0.10-hard-wrapped.log")
    assert facts["kv_cache_tokens"] == 450192 and facts["max_concurrency"] == 27.48
    assert facts["compilation"] == "PIECEWISE"  # only in the wrapped part of the config dump
    cause = root(facts)
    assert cause["line"] == 29
    assert cause["text"] == "Engine core proc EngineCore_0 died unexpectedly, shutting down client."
    assert facts["requests"] == {"total": 2, "by_status": {"200": 1, "500": 1}}
