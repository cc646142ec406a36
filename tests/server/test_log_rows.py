"""The log pane's rows are made in the parse thread: secrets masked, colour codes dropped, controls escaped, one
row per line, the hint inline — whatever bytes the server wrote."""

from __future__ import annotations

from pathlib import Path

from tui.redact import MASK, Redactor
from tui.safe_text import log_text
from tui.server.log_window import LogWindow, shown_text
from tui.server.logfacts import LogFacts
from tui.server.pipeline_parse import parse_batch
from tui.server.tail import LogTail

TOKEN = "hf_abcdefghijklmnopqrstuvwx"
KEY = "plain-api-key-42"
REDACT = Redactor({"HF_TOKEN": TOKEN, "PATH": "/usr/bin"}, [KEY])
HEAD = "(EngineCore pid=7) INFO 07-22 04:06:17 "


def rows_of(lines: list[str]) -> list[str]:
    return [line.shown for line in parse_batch(LogFacts(), lines, 0, REDACT).lines]


def test_colour_codes_are_dropped_and_every_other_control_is_escaped() -> None:
    drawn = log_text("\x1b[1;36m(APIServer pid=9)\x1b[0;0m \x1b[32mINFO\x1b[0m up\x1b]0;pwned\x07\x1b[2J\x9b\x00")
    assert drawn == "(APIServer pid=9) INFO up\\x1b]0;pwned\\x07\\x1b[2J\\x9b\\x00"


def test_a_line_stays_one_row_whatever_breaks_it() -> None:
    for breaker, shown in (("\n", "\\x0a"), ("\r", "\\x0d"), ("\x0b", "\\x0b"), ("\x0c", "\\x0c"), ("\x1c", "\\x1c"),
                           ("\x85", "\\x85"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        drawn = log_text(f"before{breaker}after")
        assert drawn == f"before{shown}after"
        assert drawn.splitlines() == [drawn], f"{breaker!r} would split the row"
    assert log_text("a\tb") == "a       b", "tabs expanded, so the row's width and a match's column are right"


def test_garbage_bytes_from_the_log_file_reach_the_pane_escaped(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_bytes(b"\xff\xfe\x00ok \x1b[2J\x1b]0;title\x07 \xc3\x28 caf\xc3\xa9\n" + HEAD.encode() + b"fine\n")
    with LogTail(log, from_start=True) as tail:
        lines = list(tail.read_available().lines)
    rows = rows_of(lines)
    assert rows[0] == "\ufffd\ufffd\\x00ok \\x1b[2J\\x1b]0;title\\x07 \ufffd( café"
    assert rows[1] == HEAD + "fine"
    assert not any(char in row for row in rows for char in "\x00\x07\x1b\n")


def test_a_secret_in_a_line_never_reaches_the_row() -> None:
    lines = [
        HEAD + f"HF_TOKEN={TOKEN} and more",
        HEAD + f"token behind a colour code: \x1b[33m{TOKEN}\x1b[0m",
        HEAD + f"non-default args: {{'api_key': ['{KEY}'], 'port': 8000}}",
        HEAD + 'curl -H "Authorization: Bearer abcdefghijkl" http://127.0.0.1:8000/v1/models',
        HEAD + "Avg prompt throughput: 812.3 tokens/s, max_num_batched_tokens=8192",
    ]
    rows = rows_of(lines)
    for row in rows[:4]:
        assert MASK in row and TOKEN not in row and KEY not in row and "abcdefghijkl" not in row, row
    assert rows[4] == lines[4], "ordinary words that sound like secrets stay"
    parsed = parse_batch(LogFacts(), lines, 0, REDACT).lines
    assert parsed[0].text == lines[0], "the facts read the line as written; only the row is masked"
    assert LogWindow.find(list(parsed), TOKEN) is None, "a search finds what the pane shows, not a masked secret"


def test_an_error_carries_its_hint_inline_and_the_row_is_found_by_it() -> None:
    lines = [HEAD + "[core.py:1140] EngineCore failed to start.",
             HEAD.replace("INFO", "ERROR") + "[core.py:1140] RuntimeError: Initialize:build/CMakeFiles/torch_npu.dir/"
             "compiler_depend.ts:146 NPU function error: c10_npu::SetDevice(device_id_), error code is 107001"]
    parsed = parse_batch(LogFacts(), lines, 0, REDACT).lines
    error = parsed[1]
    assert error.kind == "error" and error.hint
    assert error.shown == shown_text(lines[1], error.hint, REDACT)
    assert error.shown.startswith(lines[1] + "    ⟶ hint: ") and "npu-smi info -m" in error.shown
    assert LogWindow.find(list(parsed), "npu-smi info -m") == 1
