"""Where the vLLM log fixtures are, and how a test compares facts with an expected JSON.

The shared corpus (real `vllm serve` logs as people saved them, with the facts
each must give) lives beside the repository in `../shared/fixtures/vllm-logs`
and is read in place, never copied; `NPU_CONSOLE_SHARED` points elsewhere, and
the tests that need it skip when it is absent. This repository's own fixtures
(written from the format facts, for cases the corpus lacks) are in
`tests/fixtures/vllm-logs`.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
OWN_LOGS = REPO / "tests" / "fixtures" / "vllm-logs"


def shared_logs_folder() -> Path | None:
    """`$NPU_CONSOLE_SHARED/fixtures/vllm-logs` when set (only it), else `<repo>/../shared/…`; None if absent."""
    configured = os.environ.get("NPU_CONSOLE_SHARED")
    root = Path(configured) if configured else REPO.parent / "shared"
    folder = root / "fixtures" / "vllm-logs"
    return folder if (folder / "expected").is_dir() else None


SHARED_LOGS = shared_logs_folder()
SKIP_SHARED = pytest.mark.skip(reason="the shared fixture corpus (../shared or $NPU_CONSOLE_SHARED) is not here")


def expected_pairs(folder: Path | None) -> list[object]:
    """(log, expected JSON) params for every expected file in `folder`; one skipped param when it is absent."""
    if folder is None:
        return [pytest.param(None, None, id="shared-corpus-absent", marks=SKIP_SHARED)]
    return [
        pytest.param(folder / f"{expected.stem}.log", expected, id=expected.stem.split("_")[0])
        for expected in sorted((folder / "expected").glob("*.json"))
    ]


def read_log(path: Path) -> str:
    """The log text exactly as saved: bytes decoded, every CR kept (no universal newlines)."""
    return path.read_bytes().decode("utf-8", errors="replace")


def shared_log(prefix: str) -> Path:
    """A shared real log by its number (`001`), skipping the test when the corpus is absent."""
    if SHARED_LOGS is None:
        pytest.skip("the shared fixture corpus is not here")
    return next(SHARED_LOGS.glob(f"{prefix}_*.log"))


def without_hints(facts: dict[str, object]) -> dict[str, object]:
    """A copy with every `hint` blanked: hints are our own sentences, compared elsewhere."""
    result = copy.deepcopy(facts)
    errors = result["errors"]
    assert isinstance(errors, list)
    for error in errors:
        error["hint"] = None
    cause = result["root_cause"]
    if isinstance(cause, dict):
        cause["hint"] = None
    return result


SECOND_WAVE_KEYS = ("message", "detail")
"""Keys every error object gained in the second wave; the shared corpus's expected files predate them."""


def first_wave(facts: dict[str, object]) -> dict[str, object]:
    """A copy whose error objects lack the second wave's keys (to compare with an expected file without them)."""
    result = copy.deepcopy(facts)
    errors = result["errors"]
    assert isinstance(errors, list)
    cause = result["root_cause"]
    for error in [*errors, cause] if isinstance(cause, dict) else errors:
        for key in SECOND_WAVE_KEYS:
            error.pop(key, None)
    return result


def predates_second_wave(expected: dict[str, object]) -> bool:
    errors = expected["errors"]
    assert isinstance(errors, list)
    return bool(errors) and "message" not in errors[0]


def assert_facts_match(actual: dict[str, object], expected: dict[str, object]) -> None:
    """Equal but for hints: as values (pytest shows the difference), as keys in order, and as JSON text.

    An expected file written before the second wave (the shared corpus) has no `message`/`detail` in its
    error objects: those keys are left out of the comparison there, and required everywhere else.
    """
    if predates_second_wave(expected):
        actual = first_wave(actual)
    mine, theirs = without_hints(actual), without_hints(expected)
    assert mine == theirs
    assert list(actual) == list(expected)
    assert json.dumps(mine) == json.dumps(theirs)
    errors = actual["errors"]
    assert isinstance(errors, list)
    diagnoses = [*errors, actual["root_cause"]] if actual["root_cause"] else errors
    for diagnosis in diagnoses:
        assert isinstance(diagnosis, dict)
        hint = diagnosis["hint"]
        assert isinstance(hint, str) and hint.endswith(".") and "\n" not in hint, hint
