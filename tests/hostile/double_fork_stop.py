"""Helper run in a subprocess by test_double_fork.py: launch a double-forking "server", stop it, report JSON.

usage: python -m tests.hostile.double_fork_stop WRAPPER PID_FILE LOG [--sigint-only] [--no-subreaper]
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

from tui.processes.tree import become_subreaper, is_subreaper
from tui.server.launcher import SERVER_ESCALATION, ServerProcess


def _written(path: Path) -> bool:
    return path.exists() and bool(path.read_text().strip())


async def main(wrapper: str, pid_file: Path, log: Path, sigint_only: bool) -> dict[str, object]:
    server = await ServerProcess.start([wrapper], dict(os.environ), log, lambda lines: None)
    deadline = time.monotonic() + 30
    while not await asyncio.to_thread(_written, pid_file):
        if time.monotonic() > deadline:
            raise SystemExit("the daemon never wrote its pid")
        await asyncio.sleep(0.02)
    daemon = int(await asyncio.to_thread(pid_file.read_text))
    escalation = ((signal.SIGINT, 1.0),) if sigint_only else SERVER_ESCALATION
    report = await server.stop(escalation)
    return {"server": server.pid, "daemon": daemon, "stopped": list(report.stopped),
            "survivors": list(report.survivors), "ok": report.ok, "subreaper": is_subreaper()}


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if "--no-subreaper" not in sys.argv:
        become_subreaper()
    result = asyncio.run(main(args[0], Path(args[1]), Path(args[2]), "--sigint-only" in sys.argv))
    print(json.dumps(result))
