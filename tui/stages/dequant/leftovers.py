"""What a killed run leaves beside DST, found and dealt with by the next run.

A run writes into ``.DST.partial-<pid>`` and, when it replaces an existing DST (``--force``), moves the
old one to ``.DST.old-<pid>`` for the moment of the rename. SIGKILL (or a power cut) leaves them behind.
The running run holds an exclusive ``flock`` on its partial folder from creation to the end (the lock
follows the folder when it becomes DST), and the kernel drops that lock when the process dies, so the
next run can tell "killed" from "still running" whatever has become of the PID since (a PID that runs
a dequant stage counts as running too, for the instant between a folder's creation and its lock):

* a partial folder nobody holds is removed, and a log event names it;
* one that a live run holds stops this run with one sentence (two runs into one DST would race);
* an ``.old`` folder nobody holds is removed when DST is there (the new output was installed), and
  renamed back to DST when DST is missing (the killed run had moved it aside and got no further), so
  the previous output is never lost.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tui.stages.dequant.errors import DequantError, DequantInputError

Say = Callable[[str], None]


@dataclass(frozen=True)
class Leftover:
    path: Path
    kind: str  # "partial" or "old"
    pid: int


def find_leftovers(dst: Path) -> list[Leftover]:
    """The ``.DST.partial-<pid>`` and ``.DST.old-<pid>`` entries beside ``dst``, sorted by name."""
    pattern = re.compile(rf"\.{re.escape(dst.name)}\.(partial|old)-(\d+)")
    found: list[Leftover] = []
    try:
        entries = list(dst.parent.iterdir())
    except OSError:
        return []
    for entry in sorted(entries):
        match = pattern.fullmatch(entry.name)
        if match:
            found.append(Leftover(entry, match.group(1), int(match.group(2))))
    return found


def lock_folder(folder: Path) -> int:
    """Hold an exclusive lock on ``folder`` for this run; returns the fd to close at the very end."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise
    return fd


def is_held(path: Path) -> bool:
    """Whether a live process holds the run lock on ``path`` (False when it is gone or unreadable)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # closing drops the lock we may just have taken
    return False


def runs_dequant(pid: int) -> bool:
    """Whether ``pid`` is another live dequant stage (its command line names this module; Linux /proc)."""
    if pid == os.getpid():
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return b"tui.stages.dequant" in handle.read(64 * 1024)
    except OSError:
        return False


def _process_note(pid: int) -> str:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return f"process {pid} is gone"
    except PermissionError:
        pass
    return f"process {pid} is another program now"


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def clean_leftovers(dst: Path, say: Say, *, dry_run: bool = False) -> list[Path]:
    """Remove (or, in a dry run, only name) what killed runs left beside ``dst``; returns what it removed.

    Raises ``DequantInputError`` when a live run is writing the same DST.
    """
    removed: list[Path] = []
    for left in find_leftovers(dst):
        partial_of_pid = dst.parent / f".{dst.name}.partial-{left.pid}"
        live = is_held(left.path) or runs_dequant(left.pid)
        if live or (left.kind == "old" and (is_held(partial_of_pid) or is_held(dst))):
            if left.kind == "partial":
                raise DequantInputError(
                    f"another dequant run (PID {left.pid}) is writing {dst} right now ({left.path.name}); "
                    "wait for it to end or stop it first."
                )
            continue  # a live run is swapping DST this very moment: its own business
        why = f"left by an earlier run that was killed ({_process_note(left.pid)})"
        restore = left.kind == "old" and not dst.exists() and not dst.is_symlink()
        if dry_run:
            say(f"would {'restore ' + dst.name + ' from' if restore else 'remove'} {left.path.name}, {why}")
            continue
        try:
            if restore:
                os.rename(left.path, dst)
                say(f"restored {dst.name} from {left.path.name}, {why} while replacing it")
                continue
            _remove(left.path)
        except OSError as exc:
            raise DequantError(
                f"cannot remove {left.path}, {why}: {exc.strerror or exc}; remove it by hand and rerun."
            ) from exc
        removed.append(left.path)
        say(f"removed {left.path.name}, {why}")
    return removed


def release(fd: int | None) -> None:
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)
