"""Writing files so that a crash never leaves one half-written.

Every file npu-console produces (profiles, run metadata, results) goes through
these helpers: the bytes land in a temporary file in the same folder, are
flushed to disk, and replace the target with one `os.replace`, which is atomic
on POSIX. Append-only journals (chat history, per-request records) use
`append_line`, which writes each record with a single `write` call and fsyncs.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, mode: int = 0o644) -> Path:
    """Write `data` to `path` atomically (temp file + fsync + rename); return the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, target)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    fsync_dir(target.parent)
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str, mode: int = 0o644) -> Path:
    """Write `text` (UTF-8) to `path` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"), mode=mode)


def atomic_write_json(path: str | os.PathLike[str], value: Any) -> Path:
    """Write `value` as indented JSON (UTF-8, non-ASCII kept) to `path` atomically."""
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
    return atomic_write_text(path, text)


def append_line(path: str | os.PathLike[str], line: str) -> None:
    """Append one line to a journal file with a single write, then fsync.

    A reader never sees half a record from a crash between records; a crash in the
    middle of the one `write` call can at worst leave a final line without its
    newline, which readers of our journals skip.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    data = (line.rstrip("\n") + "\n").encode("utf-8")
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


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
