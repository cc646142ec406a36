from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tui.files.atomic import append_json_line, atomic_write_json, atomic_write_text


def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "result.json"
    atomic_write_json(target, {"a": 1, "名": "值"})
    atomic_write_json(target, {"b": 2})
    assert json.loads(target.read_text(encoding="utf-8")) == {"b": 2}
    assert sorted(p.name for p in target.parent.iterdir()) == ["result.json"]


def test_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "profile.toml"
    atomic_write_text(target, "old = 1\n")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        atomic_write_text(target, "new = 2\n")
    assert target.read_text() == "old = 1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["profile.toml"]


def test_append_json_line_appends_whole_records(tmp_path: Path) -> None:
    journal = tmp_path / "chat.jsonl"
    for index in range(3):
        append_json_line(journal, {"turn": index, "text": "line\nbreak"})
    lines = journal.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["turn"] for line in lines] == [0, 1, 2]
