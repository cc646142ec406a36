"""Reading an operator's file with a bound on memory, whatever the file turns out to be.

`open_regular` opens a path for reading only when it is a regular file: a
device (`/dev/zero`), a FIFO or a socket is refused with a sentence before a
byte is read (the open itself cannot block on a FIFO: it is non-blocking).
`BoundedLines` turns the file into text blocks of whole lines, each line cut at
`max_line` characters and the cuts counted, so a 2 GB file without a newline
costs one block of memory, not 2 GB. Headless; used by `log facts` and
`smi --file`.
"""

from __future__ import annotations

import codecs
import errno
import os
import stat
from collections.abc import Iterator
from typing import BinaryIO

MAX_LINE = 64 * 1024  # characters kept of one line; the rest is cut and counted
BLOCK = 1 << 20


class InputError(Exception):
    """A sentence saying why the file cannot be read (no trailing full stop)."""


def open_regular(path: str) -> BinaryIO:
    """`path` opened for binary reading, or `InputError` when it is missing, unreadable or not a regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise InputError(f"cannot read {path}: it does not exist; check the path") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a directory; give the file itself") from None
    except PermissionError:
        raise InputError(f"cannot read {path}: permission denied; check its permissions") from None
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror or error}; check the path") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise InputError(f"{path} is a directory; give the file itself")
        if not stat.S_ISREG(mode):
            raise InputError(f"{path} is {_kind(mode)}, not a regular file; save the output to a file and give that")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb", buffering=0)


def _kind(mode: int) -> str:
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


class BoundedLines:
    """Whole lines of a binary stream as text blocks, in bounded memory.

    Iterating yields strings that end with a newline (the file's last line gets
    one added), holding at most about `block` bytes of input plus one line. A
    line longer than `max_line` characters keeps its first `max_line` and drops
    the rest; `cut_lines` counts such lines, `bytes_read` what was read. With
    `max_bytes`, reading stops past that many bytes and `too_big` is set.
    """

    def __init__(self, handle: BinaryIO, *, max_line: int = MAX_LINE, block: int = BLOCK,
                 max_bytes: int | None = None) -> None:
        self._handle = handle
        self._max_line = max_line
        self._block = block
        self._max_bytes = max_bytes
        self.cut_lines = 0
        self.bytes_read = 0
        self.too_big = False  # `max_bytes` was reached: reading stopped there

    def __iter__(self) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        carry = ""  # the start of a line not ended yet (never longer than max_line)
        skipping = False  # the current line was cut: drop input up to its newline
        while True:
            data = self._read()
            if not data:
                tail = carry + decoder.decode(b"", final=True)
                if tail and not skipping:
                    carry, skipping = self._grow("", tail)
                if carry:
                    yield carry + "\n"
                return
            if skipping:  # scanning bytes for the end of a cut line: nothing is decoded or kept
                newline = data.find(b"\n")
                if newline < 0:
                    continue
                data = data[newline + 1:]
                skipping = False
                decoder.reset()
                yield carry + "\n"  # the cut line, as far as it was kept
                carry = ""
            text = decoder.decode(data)
            end = text.rfind("\n")
            if end < 0:
                carry, skipping = self._grow(carry, text)
                continue
            whole, rest = carry + text[:end + 1], text[end + 1:]
            yield self._cut_long(whole)
            carry, skipping = self._grow("", rest)

    def _read(self) -> bytes:
        if self._max_bytes is not None and self.bytes_read >= self._max_bytes:
            self.too_big = True
            return b""
        while True:
            try:
                data = self._handle.read(self._block)
            except InterruptedError:
                continue
            except OSError as error:
                if error.errno == errno.EINTR:
                    continue
                raise
            data = data or b""
            self.bytes_read += len(data)
            return data

    def _grow(self, carry: str, text: str) -> tuple[str, bool]:
        """The unfinished line extended by `text`, cut at the bound (then the rest of it is skipped)."""
        joined = carry + text
        if len(joined) <= self._max_line:
            return joined, False
        self.cut_lines += 1
        return joined[:self._max_line], True

    def _cut_long(self, whole: str) -> str:
        """`whole` (complete lines) with each line over the bound cut; cheap when none is."""
        if len(whole) <= self._max_line:
            return whole
        lines = whole.split("\n")
        if max(map(len, lines)) <= self._max_line:
            return whole
        kept = []
        for line in lines:
            if len(line) > self._max_line:
                self.cut_lines += 1
                line = line[:self._max_line]
            kept.append(line)
        return "\n".join(kept)
