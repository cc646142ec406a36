"""Every UI test stops what it starts, also when it fails half-way."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.ui.helpers import LAUNCHED


@pytest.fixture(autouse=True)
def stop_launched_servers() -> Iterator[None]:
    yield
    import psutil

    from tui.processes.tree import Expected, stop_tree

    while LAUNCHED:
        pid, started = LAUNCHED.pop()
        if psutil.pid_exists(pid):  # the same process only (its create time), never a reused pid
            stop_tree(pid, with_group=True, expect=Expected(pid, create_time=started))
