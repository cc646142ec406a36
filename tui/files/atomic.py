"""Writing files so that a crash never leaves one half-written.

Every file npu-console produces (profiles, run metadata, results) goes through
these helpers: the bytes land in a temporary file in the same folder, are
flushed to disk, and replace the target with one `os.replace`, which is atomic
on POSIX. Permissions follow the umask, as `open(2)` would: `mode` says which
bits are asked for (0o666 for data, 0o777 for a script), the umask takes its
bits off. Append-only journals (chat history, per-request records) use
`append_line`: a journal is created 0600 (it holds prompts and replies), each
record is written whole (short writes are continued) and fsynced, and a record
that cannot be written whole is taken back off the file, so a reader never sees
half a record glued to the next one.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path
from typing import Any

DATA_MODE = 0o666
SCRIPT_MODE = 0o777
JOURNAL_MODE = 0o600


def current_umask() -> int:
    """This process's umask, read without changing it where Linux says it (`/proc/self/status`)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: the only portable read is set-and-restore
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, mode: int = DATA_MODE) -> Path:
    """Write `data` to `path` atomically (temp file + fsync + rename); return the path.

    The file gets `mode` less the umask (0o644 under the usual 022, 0o600 under 077).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, mode & ~current_umask() & 0o7777)
        os.replace(tmp_name, target)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    fsync_dir(target.parent)
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str, mode: int = DATA_MODE) -> Path:
    """Write `text` (UTF-8) to `path` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"), mode=mode)


def atomic_write_json(path: str | os.PathLike[str], value: Any) -> Path:
    """Write `value` as indented JSON (UTF-8, non-ASCII kept) to `path` atomically."""
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
    return atomic_write_text(path, text)


def append_line(path: str | os.PathLike[str], line: str, mode: int = JOURNAL_MODE) -> None:
    """Append one whole record (a line) to a journal file, then fsync.

    A short write is continued until the record is complete. When a write fails
    part-way (a full disk), the part already written is cut off again before the
    error is raised: the file ends with the previous whole record, never half of
    this one. A new journal is created with `mode` (0600) less the umask.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    data = (line.rstrip("\n") + "\n").encode("utf-8")
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, mode)
    try:
        start = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                if written <= 0:
                    raise OSError(errno.EIO, "the journal accepted no bytes", str(target))
                view = view[written:]
            os.fsync(fd)
        except BaseException:
            _take_back(fd, start)
            raise
    finally:
        os.close(fd)


def _take_back(fd: int, size: int) -> None:
    """Cut a journal back to `size` bytes after a record could not be written whole (best effort)."""
    try:
        os.ftruncate(fd, size)
    except OSError:
        pass


def append_json_line(path: str | os.PathLike[str], record: Any) -> None:
    """Append `record` as one compact JSON line (see `append_line`)."""
    append_line(path, json.dumps(record, ensure_ascii=False, separators=(",", ":")))


def fsync_dir(directory: Path) -> None:
    """Make the rename itself durable; some filesystems refuse, which is harmless."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
