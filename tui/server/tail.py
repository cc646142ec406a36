"""Following a log file that another process writes, the way `tail -F` and toolong do.

When the console attaches to a server it did not start, all it has is the log
file the operator's `vllm serve … 2>&1 | tee server.log` (or a systemd unit, or
logrotate) keeps writing. This module turns that file into batches of complete
lines, cheaply and safely:

- **Plain reads, never mmap.** The file belongs to someone else and can be
  truncated under us at any moment; an mmap over a truncated file raises SIGBUS
  (toolong issue #9). `os.read` of a 64 KB chunk just returns fewer bytes.
- **Bounded work per call.** `read_available` reads at most `max_bytes_per_call`
  and says so (`more=True`), so a 2 GB log never holds the event loop or floods
  the UI with one giant batch; the next call carries on.
- **Start near the end.** Attaching to a log that has run for a week starts at
  its last N lines, found by scanning backwards in chunks; the file is never
  read from the top (and the scan itself is capped).
- **Whole lines, whole characters.** Bytes are split on `\\n`; an unfinished last
  line stays buffered until its newline arrives, and only complete lines are
  decoded (UTF-8, `errors="replace"`), so a multi-byte character that a write
  split in two is never mangled. Lines are passed on raw (CR, ANSI and tqdm
  frames are `logfacts.normalize`'s business).
- **Survives what happens to logs.** Truncation (`> server.log`, logrotate's
  copytruncate), rotation (rename away + new file: the inode at the path
  changes), and a file that does not exist yet or vanishes are each detected,
  reported in the batch, and followed through.

`follow` is the async loop around it, with toolong's back-pressure: while the
consumer says it is behind (the UI's message queue is deep), no more is read.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import stat
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

CHUNK_SIZE = 64 * 1024
"""One `os.read`: big enough to amortise the syscall, small enough to stay in cache (toolong uses the same)."""
MAX_BYTES_PER_CALL = 1024 * 1024
"""Default budget of one `read_available` call: ~10k log lines, a few milliseconds of decoding."""
MAX_LINE_BYTES = 1024 * 1024
"""An unterminated line longer than this is passed on in pieces, so a writer that never sends `\\n` cannot
make us buffer without bound."""
MAX_BACKSCAN_BYTES = 16 * 1024 * 1024
"""How far back the search for the last N lines may go before it settles for fewer (huge lines)."""
_SENTINEL_BYTES = 32
"""Bytes just before the read offset, kept to notice a truncation the writer already refilled past our offset."""

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)


@dataclass(frozen=True, slots=True)
class TailBatch:
    """What one `read_available` call found.

    `offset` is how far into the current file has been read (the buffered partial
    line included). `truncated` and `rotated` say the lines that follow come from
    the start of a shrunk or a new file, so a viewer can draw a divider; `missing`
    says the path does not exist right now (the tail keeps trying). `more` says
    the byte budget ran out before the end of the file: call again without
    sleeping. `error` is one sentence when the file exists but cannot be read.
    """

    lines: tuple[str, ...] = ()
    truncated: bool = False
    rotated: bool = False
    missing: bool = False
    offset: int = 0
    more: bool = False
    error: str | None = None

    @property
    def eventful(self) -> bool:
        """True when there is something to show: lines or a change of the file's fate."""
        return bool(self.lines or self.truncated or self.rotated)


def _decode(raw: bytes | bytearray) -> str:
    return bytes(raw).decode("utf-8", errors="replace")


def _utf8_cut(buffer: bytes | bytearray, limit: int) -> int:
    """The largest cut ≤ `limit` that does not fall inside a UTF-8 sequence (continuation bytes are 10xxxxxx)."""
    cut = limit
    while cut > limit - 4 and cut > 0 and (buffer[cut] & 0xC0) == 0x80:
        cut -= 1
    return cut if cut > 0 else limit


def find_last_lines_start(
    fd: int,
    size: int,
    n: int,
    *,
    chunk_size: int = CHUNK_SIZE,
    max_scan: int = MAX_BACKSCAN_BYTES,
) -> tuple[int, int]:
    """The offset where the last `n` complete lines of an open file begin, and the bytes read to find it.

    An unterminated last line (the writer is mid-line) does not count toward `n`
    and is included after them, so it is delivered whole once its newline comes.
    `n == 0` gives the start of that unterminated tail (the end, if there is
    none). The file is read backwards with `os.pread` in `chunk_size` pieces and
    at most `max_scan` bytes: if the lines are longer than that, fewer lines are
    kept, or the scan settles mid-line at the cap.
    """
    if size <= 0:
        return 0, 0
    last = os.pread(fd, 1, size - 1)
    bytes_read = len(last)
    ends_with_newline = last == b"\n"
    end = size - 1 if ends_with_newline else size
    wanted = n if ends_with_newline else n + 1
    if wanted <= 0:
        return size, bytes_read
    floor = max(0, end - max_scan)
    found = 0
    earliest_newline = -1
    position = end
    while position > floor:
        start = max(floor, position - chunk_size)
        chunk = os.pread(fd, position - start, start)
        bytes_read += len(chunk)
        if len(chunk) < position - start:  # the file shrank under us: begin at what is there
            return 0, bytes_read
        index = len(chunk)
        while found < wanted:
            index = chunk.rfind(b"\n", 0, index)
            if index < 0:
                break
            found += 1
            earliest_newline = start + index
        if found >= wanted:
            return earliest_newline + 1, bytes_read
        position = start
    if floor == 0:
        return 0, bytes_read
    return (earliest_newline + 1 if earliest_newline >= 0 else floor), bytes_read


def read_last_lines(path: str | os.PathLike[str], n: int, *, chunk_size: int = CHUNK_SIZE) -> tuple[str, ...]:
    """The last `n` lines of a file, read from its end (for a failed launch's error view, a report excerpt).

    Unlike the live tail, an unterminated last line counts as a line here: the
    writer may be dead, and its last words matter. A missing file raises
    `FileNotFoundError` like `open` does. Reads only the tail of the file.
    """
    if n <= 0:
        return ()
    fd = os.open(path, _OPEN_FLAGS)
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            return ()
        ends_with_newline = os.pread(fd, 1, size - 1) == b"\n"
        wanted = n if ends_with_newline else n - 1  # the unterminated tail is the n-th line
        start, _ = find_last_lines_start(fd, size, wanted, chunk_size=chunk_size)
        pieces: list[bytes] = []
        position = start
        while chunk := os.pread(fd, chunk_size, position):
            pieces.append(chunk)
            position += len(chunk)
    finally:
        os.close(fd)
    data = b"".join(pieces)
    if not data:
        return ()
    if data.endswith(b"\n"):
        data = data[:-1]
    return tuple(_decode(raw) for raw in data.split(b"\n"))[-n:]


class LogTail:
    """Incremental reader of a log file at a path, robust to truncation, rotation and absence.

    Not thread-safe: one caller (a worker, or `follow`) drives it. Call `close`
    (or use it as a context manager) to release the file descriptor.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        from_start: bool = False,
        last_lines: int | None = 200,
        chunk_size: int = CHUNK_SIZE,
        max_bytes_per_call: int = MAX_BYTES_PER_CALL,
        max_line_bytes: int = MAX_LINE_BYTES,
        start_offset: int | None = None,
    ) -> None:
        """Nothing is opened yet; the first `read_available` positions the tail.

        `from_start` reads the whole file; `start_offset` starts at that byte (a
        launch appending to a log an earlier launch wrote: only its own lines);
        otherwise the tail starts at the last `last_lines` lines (`None`: at the
        end, only new lines). A file that does not exist at the first read is
        read from its start when it appears, since everything in it is new.
        """
        if chunk_size <= 0 or max_bytes_per_call <= 0 or max_line_bytes <= 0:
            raise ValueError("chunk_size, max_bytes_per_call and max_line_bytes must be positive")
        self.path = Path(path)
        self.from_start = from_start
        self.last_lines = last_lines
        self.chunk_size = chunk_size
        self.max_bytes_per_call = max_bytes_per_call
        self.max_line_bytes = max_line_bytes
        self.start_offset = start_offset
        self.bytes_read = 0
        """Every byte read from disk so far, the backward scan included (for tests and diagnostics)."""
        self._fd: int | None = None
        self._identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the file last opened
        self._regular = True
        self._offset = 0
        self._pending = bytearray()
        self._sentinel = b""
        self._positioned = False  # the first sight of the file applies from_start / last_lines; later ones read all
        self._successor = False  # the file we followed is gone: the next one at the path is new, whatever its inode

    @property
    def offset(self) -> int:
        """Bytes consumed from the current file, the buffered partial line included."""
        return self._offset

    def close(self) -> None:
        """Release the file descriptor; a later `read_available` reopens (and continues if it is the same file)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def __enter__(self) -> LogTail:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # A forgotten tail must not leak its descriptor; at interpreter exit `os` may already be gone.
        try:
            self.close()
        except Exception:
            pass

    # ------------------------------------------------------------------ reading

    def read_available(self) -> TailBatch:
        """Read what the file holds now (up to the byte budget) and return the complete lines.

        Never blocks on the writer: at the end of the file it returns what it
        has. Never raises for the file's fate (absent, truncated, replaced,
        unreadable): that is reported in the batch.
        """
        lines: list[str] = []
        try:
            return self._read_available(lines)
        except OSError as exc:
            # An I/O error mid-read (EIO, a vanished NFS handle): start over from a fresh open next time.
            try:
                self.close()
            except OSError:
                pass
            return TailBatch(tuple(lines), offset=self._offset, error=_error_sentence(self.path, exc))

    def _read_available(self, lines: list[str]) -> TailBatch:
        rotated = truncated = False
        if self._fd is None:
            opened = self._open(lines)
            if isinstance(opened, TailBatch):
                return opened
            rotated = opened
        assert self._fd is not None
        missing, replaced, error = self._path_state()
        if error is not None:
            return TailBatch(tuple(lines), rotated=rotated, offset=self._offset, error=error)
        if self._regular and not replaced:
            truncated = self._check_truncation(lines)
        more = self._read_into(lines)
        if not more and (replaced or (missing and self._deleted())):
            # The old file is drained: what its writer put there before letting go is ours. Then the new one.
            self._flush_pending(lines)
            self.close()
            # Whatever appears at the path next is a successor, even if the kernel gives it the freed inode.
            self._identity = None
            self._successor = True
            opened = self._open(lines)
            if isinstance(opened, TailBatch):
                return opened
            rotated = rotated or opened
            missing = False
            more = self._read_into(lines)
        return TailBatch(
            tuple(lines), truncated=truncated, rotated=rotated, missing=missing, offset=self._offset, more=more
        )

    def _open(self, lines: list[str]) -> bool | TailBatch:
        """Open the path and position the tail; True when it is a different file from the one before.

        Returns the batch to hand back as-is when the path cannot be opened.
        """
        try:
            fd = os.open(self.path, _OPEN_FLAGS)
        except FileNotFoundError:
            self._positioned = True  # it did not exist when we looked: when it comes, all of it is new
            return TailBatch(tuple(lines), missing=True, offset=self._offset)
        except OSError as exc:
            return TailBatch(tuple(lines), offset=self._offset, error=_error_sentence(self.path, exc))
        try:
            info = os.fstat(fd)
        except OSError as exc:
            os.close(fd)
            return TailBatch(tuple(lines), offset=self._offset, error=_error_sentence(self.path, exc))
        if stat.S_ISDIR(info.st_mode):
            os.close(fd)
            return TailBatch(tuple(lines), offset=self._offset, error=_error_sentence(self.path, IsADirectoryError()))
        identity = (info.st_dev, info.st_ino)
        replaced = self._successor or (self._identity is not None and identity != self._identity)
        self._fd = fd
        self._regular = stat.S_ISREG(info.st_mode)
        if not self._positioned:
            self._offset = self._initial_offset(fd, info.st_size) if self._regular else 0
        elif replaced or identity != self._identity:
            self._offset = 0
            self._pending.clear()
        # else: the same file came back (closed and reopened, renamed back): carry on where we were.
        self._positioned = True
        self._successor = False
        self._identity = identity
        if self._regular:
            os.lseek(fd, self._offset, os.SEEK_SET)
            self._sentinel = self._read_sentinel()
        return replaced

    def _initial_offset(self, fd: int, size: int) -> int:
        if self.start_offset is not None:
            return min(max(0, self.start_offset), size)
        if self.from_start:
            return 0
        start, scanned = find_last_lines_start(fd, size, self.last_lines or 0, chunk_size=self.chunk_size)
        self.bytes_read += scanned
        return start

    def _path_state(self) -> tuple[bool, bool, str | None]:
        """(missing, replaced, error) for the path as it is now, against the file we hold open.

        A missing path is not a reason to let go of the open file: in
        logrotate's rename-then-create window, and when the writer keeps writing
        to the renamed file, the old descriptor still has lines to give.
        """
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            return True, False, None
        except NotADirectoryError:
            return True, False, None
        except OSError as exc:
            return False, False, _error_sentence(self.path, exc)
        return False, (info.st_dev, info.st_ino) != self._identity, None

    def _deleted(self) -> bool:
        """True when the open file has no name left (removed, not renamed): holding it would only pin disk space."""
        assert self._fd is not None
        return os.fstat(self._fd).st_nlink == 0

    def _check_truncation(self, lines: list[str]) -> bool:
        """True (and rewound to 0) when the file is now shorter than our offset, or was refilled past it."""
        assert self._fd is not None
        size = os.fstat(self._fd).st_size
        shrunk = size < self._offset
        if not shrunk and self._sentinel and self._read_sentinel() != self._sentinel:
            shrunk = True  # truncated and rewritten past our offset between two polls: the bytes before it differ
        if not shrunk:
            return False
        self._flush_pending(lines)
        self._offset = 0
        self._sentinel = b""
        os.lseek(self._fd, 0, os.SEEK_SET)
        return True

    def _read_sentinel(self) -> bytes:
        assert self._fd is not None
        start = max(0, self._offset - _SENTINEL_BYTES)
        if start == self._offset:
            return b""
        data = os.pread(self._fd, self._offset - start, start)
        self.bytes_read += len(data)
        return data

    def _read_into(self, lines: list[str]) -> bool:
        """Read up to the budget into `lines`; True when the budget ran out before the end of the file."""
        assert self._fd is not None
        remaining = self.max_bytes_per_call
        while remaining > 0:
            try:
                data = os.read(self._fd, min(self.chunk_size, remaining))
            except BlockingIOError:  # a FIFO with nothing in it
                data = b""
            if not data:
                break
            self._offset += len(data)
            self.bytes_read += len(data)
            remaining -= len(data)
            self._split(data, lines)
        if remaining == self.max_bytes_per_call:
            return False  # nothing new; the sentinel still holds
        if self._regular:
            self._sentinel = self._read_sentinel()
        return remaining <= 0 and self._regular and os.fstat(self._fd).st_size > self._offset

    def _split(self, data: bytes, lines: list[str]) -> None:
        """Append the complete lines in pending+data to `lines`; keep the unterminated rest buffered."""
        newline = data.rfind(b"\n")
        if newline < 0:
            self._pending += data
        else:
            head = bytes(self._pending) + data[:newline] if self._pending else data[:newline]
            lines.extend(_decode(raw) for raw in head.split(b"\n"))
            self._pending = bytearray(data[newline + 1 :])
        while len(self._pending) > self.max_line_bytes:
            cut = _utf8_cut(self._pending, self.max_line_bytes)
            lines.append(_decode(self._pending[:cut]))
            del self._pending[:cut]

    def _flush_pending(self, lines: list[str]) -> None:
        """Pass on an unterminated line whose file is going away: its newline will never come."""
        if self._pending:
            lines.append(_decode(self._pending))
            self._pending.clear()


def _error_sentence(path: Path, exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    if isinstance(exc, PermissionError):
        return f"cannot read {path}: permission denied; run the console as a user who may read the log"
    if isinstance(exc, IsADirectoryError):
        return f"{path} is a folder, not a log file"
    return f"cannot read {path}: {reason}"


async def follow(
    tail: LogTail,
    on_batch: Callable[[TailBatch], Awaitable[None] | None],
    *,
    poll_s: float = 0.05,
    stop: asyncio.Event,
    should_wait: Callable[[], bool] = lambda: False,
) -> None:
    """Feed `tail`'s batches to `on_batch` until `stop` is set.

    Polls (50 ms by default, like toolong) rather than using inotify: it works
    the same on NFS, overlayfs and inside containers, and one `fstat` per poll
    is nothing. When a read ran out of budget it reads again at once. While
    `should_wait()` is true (the consumer is behind) nothing is read, so the
    lines wait on disk instead of piling up in memory. `on_batch` gets only
    batches worth drawing: lines, a truncation or rotation, or a change of the
    missing/error state (not a "still missing" every poll). It may be a plain
    function or a coroutine function. The tail is not closed here; its owner
    closes it.
    """
    last_state: tuple[bool, str | None] = (False, None)
    while not stop.is_set():
        if should_wait():
            await _sleep_unless(stop, poll_s)
            continue
        batch = tail.read_available()
        state = (batch.missing, batch.error)
        if batch.eventful or state != last_state:
            last_state = state
            result = on_batch(batch)
            if inspect.isawaitable(result):
                await result
        if not batch.more:
            await _sleep_unless(stop, poll_s)
        else:
            await asyncio.sleep(0)  # let the consumer run between two full budgets


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, waking early when `stop` is set, so stopping a follow is immediate."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass
