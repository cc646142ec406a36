"""The canned GSM8K server, one per module (a real loopback socket in its own thread), stopped in teardown."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.stages.accuracy.canned import CannedServer


@pytest.fixture(scope="module")
def canned() -> Iterator[CannedServer]:
    server = CannedServer().start()
    yield server
    server.stop()
