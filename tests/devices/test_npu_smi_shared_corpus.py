"""Every output in the shared corpus that has an expected JSON parses to exactly that JSON.

That is the 19 real pastes in `expected/` (damaged as people pasted them) and
every generated table in `generated/` (all layouts, with indentation,
truncation, trailing spaces, missing titles, the driver warning). The
comparison is of the printed JSON, so key order and `92.0` versus `92` count.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.devices.shared_corpus import NPU_SMI, assert_same_json, expected_pairs
from tui.devices.backends import parse_saved_output


@pytest.mark.parametrize(("text_path", "json_path"), expected_pairs())
def test_output_parses_to_its_expected_json(text_path: Path, json_path: Path) -> None:
    snapshot = parse_saved_output(text_path.read_text(encoding="utf-8"))
    assert_same_json(snapshot.to_json_dict(), json.loads(json_path.read_text(encoding="utf-8")))


def test_every_generated_table_has_its_pair() -> None:
    if NPU_SMI is None:
        pytest.skip("the shared fixture corpus is not here")
    stems = {path.stem for path in (NPU_SMI / "generated").glob("*.txt")}
    assert stems and stems == {path.stem for path in (NPU_SMI / "generated").glob("*.json")}


def test_outputs_without_expected_json_still_parse_without_raising() -> None:
    """The key/value outputs, watch, topo: no table, so no chips, and every line kept as a warning."""
    if NPU_SMI is None:
        pytest.skip("the shared fixture corpus is not here")
    for path in sorted(NPU_SMI.glob("*.txt")):
        if (NPU_SMI / "expected" / f"{path.stem}.json").exists():
            continue
        snapshot = parse_saved_output(path.read_text(encoding="utf-8"))
        assert snapshot.chips == () and snapshot.error is None, path.name
        assert snapshot.warnings, path.name
