"""Byte I/O of a run: ``pread`` of input tensors, and a writer thread so the disk works while torch computes.

Tensor bytes are read with ``pread`` straight into one buffer per tensor, so memory stays bounded by the
largest tensor whatever the checkpoint's size; copied tensors stream through in ``COPY_CHUNK`` pieces.
"""

from __future__ import annotations

import os
import queue
import threading
from pathlib import Path
from typing import Any

from tui.stages.dequant.errors import DequantInputError
from tui.stages.dequant.safetensors_format import TensorInfo
from tui.stages.dequant.signals import NEVER, CancelFlag

COPY_CHUNK = 16 * 1024**2
READ_PIECE = 64 * 1024**2  # one pread at most this big, so a cancel is seen within one piece of a huge tensor
POLL_S = 0.1  # how long a queue wait lasts before the flag and the other side are looked at again


def _pread_into(fd: int, buf: memoryview, offset: int, path: Path, cancel: CancelFlag = NEVER) -> None:
    pos = 0
    while pos < len(buf):
        cancel.check()
        n = os.preadv(fd, [buf[pos : pos + READ_PIECE]], offset + pos)
        if n <= 0:
            raise DequantInputError(
                f"{path} ended early while reading tensor data; the file is truncated, re-download it."
            )
        pos += n


def write_all(fd: int, data: memoryview) -> None:
    """``os.write`` until every byte is written (a short write is not an error, just a partial one)."""
    pos = 0
    while pos < len(data):
        pos += os.write(fd, data[pos:])


class Reader:
    """Keeps one read-only fd per input file open for the whole run; stops at a cancel between pieces."""

    def __init__(self, cancel: CancelFlag = NEVER) -> None:
        self.fds: dict[Path, int] = {}
        self.bytes_read = 0
        self.cancel = cancel

    def fd(self, path: Path) -> int:
        if path not in self.fds:
            self.fds[path] = os.open(path, os.O_RDONLY)
        return self.fds[path]

    def read(self, t: TensorInfo) -> bytearray:
        buf = bytearray(t.nbytes)
        _pread_into(self.fd(t.file), memoryview(buf), t.start, t.file, self.cancel)
        self.bytes_read += t.nbytes
        return buf

    def copy_to(self, t: TensorInfo, writer: Writer) -> None:
        """Byte-copy a tensor into the output at its current position, in bounded chunks."""
        fd = self.fd(t.file)
        done = 0
        while done < t.nbytes:
            self.cancel.check()
            n = min(COPY_CHUNK, t.nbytes - done)
            chunk = os.pread(fd, n, t.start + done)
            if not chunk:
                raise DequantInputError(f"{t.file} ended early while copying {t.name!r}; re-download it.")
            writer.put(memoryview(chunk), None)
            done += len(chunk)
        self.bytes_read += t.nbytes

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()


class _AbortedError(Exception):
    """Marks a writer stopped because the run failed elsewhere."""


class Writer:
    """Writes byte chunks to one fd on a background thread, so the disk works while torch computes.

    The queue holds one chunk; with one more being written, at most two chunks are in flight, which is
    why ``dequant_chunks`` rotates three output buffers. An error in the thread is re-raised in the
    caller at the next ``put``/``close``; a cancel is raised there too.

    No wait here blocks for good: both sides wait on the queue ``POLL_S`` at a time and look at the
    cancel flag and at each other in between, so a cancel stops the thread (it drops what is queued)
    and the caller never waits on a thread that is gone.
    """

    def __init__(self, fd: int, cancel: CancelFlag = NEVER) -> None:
        self.fd = fd
        self.cancel = cancel
        self.error: BaseException | None = None
        self._queue: queue.Queue[tuple[memoryview, Any] | None] = queue.Queue(maxsize=1)
        self._thread = threading.Thread(target=self._run, name="dequant-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self.cancel.requested:
            try:
                item = self._queue.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if item is None:
                return
            if self.error is None and not self.cancel.requested:
                try:
                    write_all(self.fd, item[0])
                except BaseException as exc:  # re-raised in the caller's thread
                    self.error = exc

    def _check(self) -> None:
        self.cancel.check()
        if self.error is not None:
            raise self.error

    def _put(self, item: tuple[memoryview, Any] | None, check: bool) -> None:
        # A timeout loop rather than a blocking put: a dead or cancelled writer must not hang the caller.
        while True:
            if check:
                self._check()
            if not self._thread.is_alive():
                if check:
                    raise RuntimeError("the dequant writer thread ended unexpectedly; this is a bug, please report it")
                return
            try:
                self._queue.put(item, timeout=POLL_S)
                return
            except queue.Full:
                continue

    def put(self, data: memoryview, keepalive: Any) -> None:
        """Queue ``data`` for writing; ``keepalive`` is the object owning its memory, held until written."""
        self._put((data, keepalive), check=True)

    def close(self) -> None:
        """Wait for everything queued to be written; raise the writer's error (or the cancel) if there is one."""
        if self._thread.is_alive():
            self._put(None, check=False)
            self._thread.join()
        self._check()

    def abort(self) -> None:
        """Stop without raising (the caller is already failing); safe after ``close``."""
        if self._thread.is_alive():
            if self.error is None:
                self.error = _AbortedError()
            self._put(None, check=False)
            self._thread.join()
