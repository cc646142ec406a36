"""Where the shared fixture corpus is, and which of its outputs have an expected JSON.

The corpus (real `npu-smi` outputs as people pasted them, and generated
tables for every layout) lives beside the repository in `../shared/fixtures/`
and is read in place, never copied. `NPU_CONSOLE_SHARED` points elsewhere;
when the corpus is not found, the tests that need it skip.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
OWN_FIXTURES = REPO / "tests" / "fixtures"


def shared_root() -> Path | None:
    """`$NPU_CONSOLE_SHARED` when set (only it: pointing it at nothing skips), else `<repo>/../shared`."""
    configured = os.environ.get("NPU_CONSOLE_SHARED")
    candidate = Path(configured) if configured else REPO.parent / "shared"
    return candidate if (candidate / "fixtures" / "npu-smi").is_dir() else None


SHARED = shared_root()
NPU_SMI = SHARED / "fixtures" / "npu-smi" if SHARED else None
SKIP = pytest.mark.skip(reason="the shared fixture corpus (../shared or $NPU_CONSOLE_SHARED) is not here")


def expected_pairs() -> list[object]:
    """(text, expected JSON) for every output with an expected file: `expected/` and every `generated/` pair."""
    if NPU_SMI is None:
        return [pytest.param(None, None, id="shared-corpus-absent", marks=SKIP)]
    pairs: list[object] = []
    for expected in sorted((NPU_SMI / "expected").glob("*.json")):
        pairs.append(pytest.param(NPU_SMI / f"{expected.stem}.txt", expected, id=expected.stem))
    index = NPU_SMI / "generated" / "INDEX.jsonl"
    for line in index.read_text(encoding="utf-8").splitlines():
        if line.strip():
            name = json.loads(line)["name"]
            generated = NPU_SMI / "generated"
            pairs.append(pytest.param(generated / f"{name}.txt", generated / f"{name}.json", id=name))
    return pairs


def shared_sample(prefix: str) -> Path:
    """A real sample by its number (`001`), skipping the test when the corpus is absent."""
    if NPU_SMI is None:
        pytest.skip("the shared fixture corpus is not here")
    return next(NPU_SMI.glob(f"{prefix}_*.txt"))


def assert_same_json(actual: dict[str, object], expected: dict[str, object]) -> None:
    """Equal as values (pytest shows the difference) and as text (key order, 92.0 versus 92)."""
    assert actual == expected
    assert json.dumps(actual) == json.dumps(expected)
