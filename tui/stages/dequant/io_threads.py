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

COPY_CHUNK = 16 * 1024**2


def _pread_into(fd: int, buf: memoryview, offset: int, path: Path) -> None:
    pos = 0
    while pos < len(buf):
        n = os.preadv(fd, [buf[pos:]], offset + pos)
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
    """Keeps one read-only fd per input file open for the whole run."""

    def __init__(self) -> None:
        self.fds: dict[Path, int] = {}
        self.bytes_read = 0

    def fd(self, path: Path) -> int:
        if path not in self.fds:
            self.fds[path] = os.open(path, os.O_RDONLY)
        return self.fds[path]

    def read(self, t: TensorInfo) -> bytearray:
        buf = bytearray(t.nbytes)
        _pread_into(self.fd(t.file), memoryview(buf), t.start, t.file)
        self.bytes_read += t.nbytes
        return buf

    def copy_to(self, t: TensorInfo, writer: Writer) -> None:
        """Byte-copy a tensor into the output at its current position, in bounded chunks."""
        fd = self.fd(t.file)
        done = 0
        while done < t.nbytes:
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
    caller at the next ``put``/``close``.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.error: BaseException | None = None
        self._queue: queue.Queue[tuple[memoryview, Any] | None] = queue.Queue(maxsize=1)
        self._thread = threading.Thread(target=self._run, name="dequant-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self.error is None:
                try:
                    write_all(self.fd, item[0])
                except BaseException as exc:  # re-raised in the caller's thread
                    self.error = exc

    def _check(self) -> None:
        if self.error is not None:
            raise self.error

    def _put(self, item: tuple[memoryview, Any] | None, check: bool) -> None:
        # A timeout loop rather than a blocking put: a dead writer must not hang the caller.
        while True:
            if check:
                self._check()
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def put(self, data: memoryview, keepalive: Any) -> None:
        """Queue ``data`` for writing; ``keepalive`` is the object owning its memory, held until written."""
        self._put((data, keepalive), check=True)

    def close(self) -> None:
        """Wait for everything queued to be written; raise the writer's error if it had one."""
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
