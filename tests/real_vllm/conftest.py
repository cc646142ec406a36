"""Fixtures of the real-engine tier: tiny models built once per session, and shared running servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.real_vllm import engine


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.real_vllm)
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def tiny_qwen2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return engine.build_model(tmp_path_factory.mktemp("models") / "tiny-qwen2", "qwen2")


@pytest.fixture(scope="session")
def tiny_qwen3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return engine.build_model(tmp_path_factory.mktemp("models") / "tiny-qwen3", "qwen3")


@pytest.fixture(scope="session")
def vllm_server(tiny_qwen2: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[engine.Engine]:
    """One real vLLM serving the tiny Qwen2 (served name `tiny`) for the tests that only need a server."""
    with engine.serve(tiny_qwen2, tmp_path_factory.mktemp("vllm") / "server.log") as served:
        yield served


@pytest.fixture(scope="session")
def vllm_thinking_server(tiny_qwen3: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[engine.Engine]:
    """A real vLLM serving the tiny thinking Qwen3 with `--reasoning-parser qwen3`."""
    log = tmp_path_factory.mktemp("vllm") / "server.log"
    with engine.serve(tiny_qwen3, log, "--reasoning-parser", "qwen3") as served:
        yield served
