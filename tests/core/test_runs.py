from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from tui.clock import FrozenClock
from tui.files.runs import create_run_dir, list_runs, safe_name


def test_run_dirs_are_unique_per_second_and_listed_newest_first(tmp_path: Path) -> None:
    clock = FrozenClock(datetime(2026, 11, 21, 8, 30, 5, tzinfo=timezone.utc))
    first = create_run_dir(tmp_path, "qwen2.5-coder/0.5b", clock, {"simulated": True})
    second = create_run_dir(tmp_path, "qwen2.5-coder/0.5b", clock)
    assert first.parent == tmp_path / "qwen2.5-coder_0.5b"
    assert first.name == "20261121-083005"
    assert second.name == "20261121-083005-1"
    meta = json.loads((first / "run.json").read_text())
    assert meta["profile"] == "qwen2.5-coder/0.5b"
    assert meta["started"] == "2026-11-21T08:30:05+00:00"
    assert meta["simulated"] is True
    runs = list_runs(tmp_path, "qwen2.5-coder/0.5b")
    assert [run.path for run in runs] == [second, first]


def test_list_runs_keeps_a_run_whose_metadata_is_damaged(tmp_path: Path) -> None:
    run = create_run_dir(tmp_path, "demo", FrozenClock())
    (run / "run.json").write_text("{ truncated")
    (listed,) = list_runs(tmp_path)
    assert listed.path == run
    assert listed.meta == {}
    assert listed.profile == "demo"


def test_safe_name() -> None:
    assert safe_name("../../etc") == "etc"
    assert safe_name("") == "unnamed"
    assert safe_name("Qwen3 4B:fp8") == "Qwen3_4B_fp8"
