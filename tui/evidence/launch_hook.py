"""`environment.json` beside a launch's `launch.json`, written in the background so the launch never waits.

The server pipeline starts this as one of its tasks right after the server process starts; it runs the
serving interpreter and `npu-smi` under timeouts (subprocesses, off the UI's loop) and reports a folder
it cannot write through the pipeline's `problem` sentence. Cancelling it (the pipeline closing) stops
whatever it had started.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from tui.devices.snapshot import DeviceSnapshot
from tui.evidence.environment import write_environment


async def record_launch_environment(run_dir: Path, argv: Sequence[str], env: Mapping[str, str],
                                    on_problem: Callable[[str], None],
                                    snapshot: DeviceSnapshot | None = None) -> None:
    """Capture the environment of the server started with `argv` in `env` into `run_dir/environment.json`."""
    problem = await write_environment(Path(run_dir), command=tuple(argv), env=dict(env), snapshot=snapshot)
    if problem is not None:
        on_problem(problem)
