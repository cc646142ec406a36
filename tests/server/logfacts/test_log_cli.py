"""`npu-console log facts FILE [--json]`, in process: the contract object, the summary, exit statuses."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from tests.server.logfacts.corpus import OWN_LOGS, assert_facts_match
from tui.commands import log
from tui.server.logfacts import FACT_KEYS

EZ9903 = OWN_LOGS / "ascend-0.18-tp2-ez9903-profile-run.log"


def run_log(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="npu-console log")
    log.add_arguments(parser)
    return log.run(parser.parse_args(list(argv)))


def test_json_prints_exactly_the_contract_object(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_log("facts", str(EZ9903), "--json") == 0
    out = capsys.readouterr()
    facts = json.loads(out.out)
    assert tuple(facts) == FACT_KEYS
    expected = json.loads((OWN_LOGS / "expected" / f"{EZ9903.stem}.json").read_text(encoding="utf-8"))
    assert_facts_match(facts, expected)
    assert out.err == ""


def test_summary_shows_facts_phases_errors_and_root_cause(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_log("facts", str(EZ9903)) == 0
    text = capsys.readouterr().out
    assert "vLLM 0.18.0 (V1) on ascend, not ready" in text
    assert "Qwen3MoeForCausalLM" in text and "PIECEWISE" in text and "16.3021 GiB loaded in 15.42 s" in text
    assert "weights loading" in text and "took 16 s" in text
    assert "line     32  ascend_error EZ9903:" in text
    assert "root cause: ascend_error EZ9903 at line 32" in text
    assert "try: An aclnn operator" in text


def test_a_failed_start_still_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_log("facts", str(OWN_LOGS / "ascend-0.18-port-in-use.log")) == 0
    assert "root cause: port_in_use" in capsys.readouterr().out


def test_a_log_without_trailing_newline_and_split_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "server.log"
    banner = "(APIServer pid=1) INFO 07-22 04:05:15 [utils.py:297]  ▄▄ ▄█ █     █     █ ▀▄▀ █  version 0.18.0"
    path.write_bytes(("x" * ((1 << 20) - 60) + "\n" + banner).encode("utf-8"))  # a glyph straddles the 1 MiB read
    assert run_log("facts", str(path), "--json") == 0
    assert json.loads(capsys.readouterr().out)["vllm_version"] == "0.18.0"


@pytest.mark.parametrize("target", ["missing.log", "."])
def test_unreadable_file_exits_2_with_one_sentence(target: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert run_log("facts", str(tmp_path / target)) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.startswith("npu-console log facts: ") and out.err.count("\n") == 1 and out.err.endswith(".\n")


def test_no_action_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_log() == 2
    assert "npu-console log facts FILE" in capsys.readouterr().err


def test_help_names_the_facts_action(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run_log("--help")
    assert "facts" in capsys.readouterr().out
