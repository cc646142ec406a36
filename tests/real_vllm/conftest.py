"""Fixtures of the real-engine tier: tiny models built once, shared running servers, and the tier's own summary.

The shared servers live as long as the tier's package (`package` scope), not the whole session: the rest of
the suite runs without an idle vLLM beside it. After the run, one line says how the tier went and its wall
time; with NPU_CONSOLE_REQUIRE_REAL_VLLM=1 (CI) a tier that did not run in full fails the session.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.real_vllm import engine

HERE = Path(__file__).parent
_outcomes: dict[str, str] = {}  # test id -> passed / failed / skipped (the worst of its phases)
_span: list[float] = []  # start and stop of every phase of every tier test (epoch seconds)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(HERE):
            item.add_marker(pytest.mark.real_vllm)
            item.add_marker(pytest.mark.slow)
            _outcomes[item.nodeid] = "not run"


def pytest_deselected(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid in _outcomes:
            _outcomes[item.nodeid] = "deselected"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.nodeid not in _outcomes:
        return
    _span.extend((report.start, report.stop))
    if report.failed:
        _outcomes[report.nodeid] = "failed"
    elif report.skipped and _outcomes[report.nodeid] != "failed":
        _outcomes[report.nodeid] = "skipped"
    elif report.when == "call" and report.passed and _outcomes[report.nodeid] == "not run":
        _outcomes[report.nodeid] = "passed"


def _tally() -> dict[str, int]:
    counts: dict[str, int] = {}
    for outcome in _outcomes.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _outcomes:
        return
    counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(_tally().items()))
    wall = f"{max(_span) - min(_span):.0f} s wall" if _span else "nothing ran"
    terminalreporter.write_line(f"real-engine tier (vLLM {engine.VERSION} CPU build): {counts}; {wall}", bold=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI the tier must have run in full: a skipped or deselected tier test fails the session."""
    if not engine.required() or not _outcomes or exitstatus != 0:
        return
    missing = {outcome: n for outcome, n in _tally().items() if outcome != "passed"}
    if missing:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print(f"\nNPU_CONSOLE_REQUIRE_REAL_VLLM=1: the real-engine tier did not run in full ({missing})")


@pytest.fixture(scope="package")
def tiny_qwen2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return engine.build_model(tmp_path_factory.mktemp("models") / "tiny-qwen2", "qwen2")


@pytest.fixture(scope="package")
def tiny_qwen3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return engine.build_model(tmp_path_factory.mktemp("models") / "tiny-qwen3", "qwen3")


@pytest.fixture(scope="package")
def vllm_server(tiny_qwen2: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[engine.Engine]:
    """One real vLLM serving the tiny Qwen2 (served name `tiny`) for the tests that only need a server."""
    with engine.serve(tiny_qwen2, tmp_path_factory.mktemp("vllm") / "server.log") as served:
        yield served


@pytest.fixture(scope="module")
def vllm_thinking_server(tiny_qwen3: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[engine.Engine]:
    """A real vLLM serving the tiny thinking Qwen3 with `--reasoning-parser qwen3`; stopped after the module that
    used it, so it never runs beside the launch tests' own servers for the rest of the session."""
    log = tmp_path_factory.mktemp("vllm") / "server.log"
    with engine.serve(tiny_qwen3, log, "--reasoning-parser", "qwen3") as served:
        yield served
