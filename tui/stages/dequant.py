"""FP8 → BF16 dequantization stage: exact, streaming, all-or-nothing.

Run as ``python -m tui.stages.dequant SRC DST [--block N] [--force] [--dry-run]``; it writes the
JSON-lines events of CONTRACTS.md ("Stages") to stdout. ``dequantize()`` is the same work in-process.

Why it is built this way:

* Only the stdlib is imported at module level, because the console (and ``--help``) must run on hosts
  without torch; torch is imported inside the functions that do the arithmetic.
* Safetensors headers are parsed here with the stdlib, not via ``safe_open``: the plan, the dry run,
  the truncation check and the final header verification then need no torch at all, and tensor bytes
  are read with ``pread`` straight into one buffer per tensor, so memory stays bounded by the largest
  tensor whatever the checkpoint's size.
* Output shards are written *streaming*: the whole output layout (names, dtypes, shapes, offsets) is
  known from the input headers, so each shard's header is written first and then every tensor's bytes
  are appended and freed. Neither a shard nor even a whole BF16 tensor is ever held in memory: peak
  RSS is the largest FP8 tensor plus a few fixed-size chunk buffers (measured ~1.0 × the largest BF16
  tensor over the interpreter, bound 2×), instead of "one whole shard".
* Non-FP8 tensors are byte-copied from the input file, so "copied unchanged" holds by construction.
* Everything goes to ``.DST.partial-<pid>`` beside DST and is renamed at the end, so DST is complete
  or absent; the partial folder is removed on any failure, Ctrl-C or SIGTERM.

The math is ``bf16(fp32(weight) × fp32(scale expanded to the block))``. Because a block's result depends
only on the FP8 byte and that block's scale, it is evaluated with exactly that formula once per (block,
byte) into a small table and every element is a gather (see ``dequant_chunks``): bit-exact by
construction, and fast enough on a 2-core host that the stage runs near disk speed. A background thread
writes while the next chunk is computed; shards are fsynced once at the end, before the rename.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import queue
import shutil
import signal
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui.atomic import fsync_dir

Emit = Callable[[dict[str, Any]], None]

INDEX_NAME = "model.safetensors.index.json"
SINGLE_NAME = "model.safetensors"
SCALE_SUFFIX = "_scale_inv"
MAX_SHARD_BYTES = 4 * 1024**3
MIN_SHARD_BYTES = 1024**3
DEFAULT_BLOCK = (128, 128)
FP8_DTYPES = {"F8_E4M3", "F8_E5M2"}
SCALE_DTYPES = {"F32", "BF16", "F16"}
DTYPE_SIZES: dict[str, float] = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8,
}  # fmt: skip
COPY_CHUNK = 16 * 1024**2
# Elements per FP32 work chunk: big enough to amortise the Python loop, small enough to stay in cache-ish
# memory and far below the size of the tensors that matter.
CHUNK_ELEMENTS = 8 * 1024**2
# Headroom kept free on the destination disk beyond the output itself (filesystem metadata, logs).
DISK_MARGIN = 64 * 1024**2


class DequantError(Exception):
    """A run that failed; ``exit_code`` is 1 for a failed run, 2 for bad input."""

    exit_code = 1


class DequantInputError(DequantError):
    """The input or the arguments are wrong: nothing was written, fix the input and rerun."""

    exit_code = 2


class Terminated(BaseException):
    """Raised from the SIGTERM handler so the same cleanup path as Ctrl-C removes the partial output."""


# --------------------------------------------------------------------------------------------------
# Reading safetensors headers (stdlib only)


@dataclass(frozen=True)
class TensorInfo:
    """One tensor of an input file: where its bytes are, and what they are."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    file: Path
    start: int  # absolute byte offset in the file
    nbytes: int


@dataclass
class Shard:
    """One input safetensors file: its tensors in file order and its metadata."""

    path: Path
    size: int
    tensors: list[TensorInfo] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)


def read_header(path: Path) -> Shard:
    """Parse a safetensors header and check every tensor's bytes are in the file (truncation check)."""
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise DequantInputError(
                    f"{path} is not a safetensors file (only {size} bytes); re-download or re-export it."
                )
            (hlen,) = struct.unpack("<Q", head)
            if hlen > size - 8 or hlen > 256 * 1024**2:
                raise DequantInputError(
                    f"{path} is truncated or not a safetensors file (header of {hlen} bytes in a {size}-byte "
                    "file); re-download it."
                )
            raw = f.read(hlen)
    except OSError as exc:
        raise DequantInputError(f"cannot read {path}: {exc.strerror or exc}; check it exists and is readable.") from exc
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DequantInputError(f"{path} has a corrupt safetensors header ({exc}); re-download it.") from exc
    if not isinstance(header, dict):
        raise DequantInputError(f"{path} has a corrupt safetensors header; re-download it.")
    shard = Shard(path=path, size=size)
    meta = header.pop("__metadata__", None)
    if isinstance(meta, dict):
        shard.metadata = {str(k): str(v) for k, v in meta.items()}
    base = 8 + hlen
    data_len = size - base
    for name, entry in header.items():
        try:
            dtype = str(entry["dtype"])
            shape = tuple(int(d) for d in entry["shape"])
            begin, end = (int(x) for x in entry["data_offsets"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DequantInputError(f"{path}: malformed header entry for {name!r}; re-download the file.") from exc
        if end > data_len:
            raise DequantInputError(
                f"{path} is truncated: tensor {name!r} ends at byte {base + end} but the file has only {size} "
                "bytes; re-download it."
            )
        if dtype not in DTYPE_SIZES:
            raise DequantInputError(f"{path}: tensor {name!r} has an unknown dtype {dtype}; cannot convert it.")
        expected = int(math.prod(shape) * DTYPE_SIZES[dtype])
        if end - begin != expected:
            raise DequantInputError(
                f"{path}: tensor {name!r} has {end - begin} bytes but {dtype}{list(shape)} needs {expected}; "
                "the file is corrupt, re-download it."
            )
        shard.tensors.append(TensorInfo(name, dtype, shape, path, base + begin, end - begin))
    shard.tensors.sort(key=lambda t: t.start)
    return shard


def write_header_bytes(entries: list[tuple[str, str, tuple[int, ...], int]], metadata: dict[str, str]) -> bytes:
    """Encode a safetensors header for (name, dtype, shape, nbytes) laid out back to back, 8-byte aligned."""
    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = metadata
    offset = 0
    for name, dtype, shape, nbytes in entries:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw


# --------------------------------------------------------------------------------------------------
# Planning


@dataclass(frozen=True)
class OutTensor:
    """One output tensor: its source, and whether it is dequantized (with which scale) or copied."""

    src: TensorInfo
    scale: TensorInfo | None

    @property
    def dtype(self) -> str:
        return "BF16" if self.scale is not None else self.src.dtype

    @property
    def nbytes(self) -> int:
        return int(math.prod(self.src.shape)) * 2 if self.scale is not None else self.src.nbytes


@dataclass
class Plan:
    """Everything the run will do, computed from headers alone before any heavy work."""

    src: Path
    block: tuple[int, int]
    tensors: list[OutTensor]
    dropped: list[TensorInfo]
    shards: list[list[OutTensor]]
    shard_names: list[str]
    extra_files: list[Path]
    config: dict[str, Any] | None
    input_bytes: int
    metadata: dict[str, str]

    @property
    def output_bytes(self) -> int:
        return sum(t.nbytes for t in self.tensors)

    @property
    def converted(self) -> list[OutTensor]:
        return [t for t in self.tensors if t.scale is not None]

    @property
    def copied(self) -> list[OutTensor]:
        return [t for t in self.tensors if t.scale is None]


def _load_config(src: Path) -> dict[str, Any] | None:
    path = src / "config.json"
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DequantInputError(f"{path} is not valid JSON ({exc}); fix or restore it.") from exc
    if not isinstance(data, dict):
        raise DequantInputError(f"{path} is not a JSON object; fix or restore it.")
    return data


def _block_from_config(config: dict[str, Any] | None) -> tuple[int, int]:
    qc = (config or {}).get("quantization_config") or {}
    size = qc.get("weight_block_size") if isinstance(qc, dict) else None
    if size is None:
        return DEFAULT_BLOCK
    if isinstance(size, int):
        size = [size, size]
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(x, int) and x > 0 for x in size)):
        raise DequantInputError(
            f"config.json quantization_config.weight_block_size is {size!r}, expected two positive integers; "
            "fix it or pass --block."
        )
    return (size[0], size[1])


def _input_files(src: Path) -> tuple[list[Path], bool]:
    index = src / INDEX_NAME
    if index.exists():
        try:
            data = json.loads(index.read_text(encoding="utf-8"))
            weight_map = data["weight_map"]
            files = list(dict.fromkeys(str(v) for v in weight_map.values()))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise DequantInputError(f"{index} is not a valid safetensors index ({exc}); restore it.") from exc
        missing = [f for f in files if not (src / f).is_file()]
        if missing:
            raise DequantInputError(
                f"{index} names {len(missing)} shard(s) that are missing (first: {missing[0]}); "
                "finish the download first."
            )
        return [src / f for f in files], True
    single = src / SINGLE_NAME
    if single.is_file():
        return [single], False
    raise DequantInputError(
        f"{src} has neither {SINGLE_NAME} nor {INDEX_NAME}; point SRC at the folder of an FP8 checkpoint."
    )


def make_plan(src: Path, block: int | None, *, max_shard_bytes: int | None = None) -> Plan:
    """Read every header and decide what happens to each tensor; checks scale presence and shape."""
    config = _load_config(src)
    blk = (block, block) if block is not None else _block_from_config(config)
    if blk[0] <= 0 or blk[1] <= 0:
        raise DequantInputError(f"block size must be positive, got {blk[0]}; pass --block 128.")
    files, _indexed = _input_files(src)
    shards = [read_header(p) for p in files]
    by_name: dict[str, TensorInfo] = {}
    for shard in shards:
        for t in shard.tensors:
            if t.name in by_name:
                raise DequantInputError(f"tensor {t.name!r} appears in two shards; the checkpoint is inconsistent.")
            by_name[t.name] = t
    tensors: list[OutTensor] = []
    dropped: list[TensorInfo] = []
    for shard in shards:
        for t in shard.tensors:
            if t.name.endswith(SCALE_SUFFIX):
                dropped.append(t)
                continue
            if t.dtype not in FP8_DTYPES:
                tensors.append(OutTensor(t, None))
                continue
            scale = by_name.get(t.name + SCALE_SUFFIX)
            if scale is None:
                raise DequantInputError(
                    f"FP8 tensor {t.name!r} has no {t.name + SCALE_SUFFIX!r} scale; the checkpoint is incomplete, "
                    "re-download it."
                )
            if len(t.shape) != 2:
                raise DequantInputError(
                    f"FP8 tensor {t.name!r} has shape {list(t.shape)}; only 2-D block-quantized weights are supported."
                )
            grid = (-(-t.shape[0] // blk[0]), -(-t.shape[1] // blk[1]))
            if scale.shape != grid:
                raise DequantInputError(
                    f"scale {scale.name!r} has shape {list(scale.shape)} but {t.name!r} {list(t.shape)} with "
                    f"{blk[0]}×{blk[1]} blocks needs {list(grid)}; check --block / weight_block_size."
                )
            if scale.dtype not in SCALE_DTYPES:
                raise DequantInputError(f"scale {scale.name!r} is {scale.dtype}; expected float32 or bfloat16 scales.")
            tensors.append(OutTensor(t, scale))
    # Output shards about the size of the input ones (BF16 doubles the bytes, so roughly twice as many),
    # never over 4 GiB, and never split a small model below 1 GiB.
    limit = max_shard_bytes or min(MAX_SHARD_BYTES, max(MIN_SHARD_BYTES, *(s.size for s in shards)))
    out_shards: list[list[OutTensor]] = []
    current: list[OutTensor] = []
    current_bytes = 0
    for ot in tensors:
        if current and current_bytes + ot.nbytes > limit:
            out_shards.append(current)
            current, current_bytes = [], 0
        current.append(ot)
        current_bytes += ot.nbytes
    if current or not out_shards:
        out_shards.append(current)
    n = len(out_shards)
    names = [SINGLE_NAME] if n == 1 else [f"model-{i + 1:05d}-of-{n:05d}.safetensors" for i in range(n)]
    weight_files = {p.name for p in files} | {INDEX_NAME, "config.json"}
    extra = sorted(
        p for p in src.iterdir()
        if p.name not in weight_files and not p.name.startswith(".") and not p.name.endswith(".safetensors")
    )  # fmt: skip
    metadata = dict(shards[0].metadata) if shards else {}
    metadata.setdefault("format", "pt")
    return Plan(
        src=src, block=blk, tensors=tensors, dropped=dropped, shards=out_shards, shard_names=names,
        extra_files=extra, config=config, input_bytes=sum(s.size for s in shards), metadata=metadata,
    )  # fmt: skip


# --------------------------------------------------------------------------------------------------
# Byte I/O and arithmetic (torch imported lazily)


def _pread_into(fd: int, buf: memoryview, offset: int, path: Path) -> None:
    pos = 0
    while pos < len(buf):
        n = os.preadv(fd, [buf[pos:]], offset + pos)
        if n <= 0:
            raise DequantInputError(
                f"{path} ended early while reading tensor data; the file is truncated, re-download it."
            )
        pos += n


class _Reader:
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

    def copy_to(self, t: TensorInfo, writer: _Writer) -> None:
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


def _write_all(fd: int, data: memoryview) -> None:
    pos = 0
    while pos < len(data):
        pos += os.write(fd, data[pos:])


class _AbortedError(Exception):
    """Marks a writer stopped because the run failed elsewhere."""


class _Writer:
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
                    _write_all(self.fd, item[0])
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


_TORCH_DTYPES = {"F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2", "F32": "float32", "BF16": "bfloat16",
                 "F16": "float16"}  # fmt: skip


def _as_tensor(buf: bytearray, dtype: str, shape: tuple[int, ...]) -> Any:
    import torch

    tdtype = getattr(torch, _TORCH_DTYPES[dtype])
    if not buf:
        return torch.empty(shape, dtype=tdtype)
    return torch.frombuffer(buf, dtype=tdtype).view(shape)


def check_scale_values(scale: Any, name: str) -> None:
    """Refuse NaN, infinite, zero or negative scales: they would silently produce garbage weights."""
    import torch

    s = scale.float()
    if not bool(torch.isfinite(s).all()):
        raise DequantInputError(f"scale {name!r} contains NaN or infinite values; the checkpoint is corrupt.")
    if not bool((s > 0).all()):
        raise DequantInputError(f"scale {name!r} has zero or negative values; the checkpoint is corrupt.")


def dequant_chunks(weight: Any, scale: Any, block: tuple[int, int], buffers: int = 3) -> Iterator[tuple[int, Any]]:
    """Yield ``(first_row, bf16 rows)`` of bf16(fp32(weight) × fp32(scale expanded to block)), bit-exact.

    Within one block the result depends only on the FP8 byte (256 values) and that block's scale, so the
    formula is evaluated once per (block, byte) into a table — ``(lut_fp32[byte] × fp32(scale)).to(bf16)``,
    the very same FP32 multiply and BF16 rounding — and every element is then one gather from it. That is
    bit-exact by construction (NaN patterns included) and about twice as fast on CPU as cast + multiply +
    cast, which matters because the stage must keep pace with the disk. The table is small:
    ``ceil(M/bm) × ceil(N/bn) × 256`` BF16 values.

    Chunks cover whole block-rows (the last may be partial). Output chunks rotate through ``buffers``
    preallocated tensors, so the full BF16 tensor never exists in memory: a yielded chunk stays valid until
    ``buffers - 1`` more chunks have been produced (the writer thread relies on that).
    """
    import torch

    m, n = weight.shape
    bm, bn = block
    if m == 0 or n == 0:
        return
    grid_r, grid_c = -(-m // bm), -(-n // bn)
    lut = torch.arange(256, dtype=torch.uint8).view(weight.dtype).float()  # torch's own FP8 → FP32
    table = (scale.float().reshape(grid_r, grid_c, 1) * lut).to(torch.bfloat16).reshape(-1)
    # offsets[br, j]: where column j's block in block-row br starts in the table.
    col_block = torch.arange(n, dtype=torch.int32) // bn
    offsets = (torch.arange(grid_r, dtype=torch.int32)[:, None] * grid_c + col_block[None, :]) * 256
    raw = weight.view(torch.uint8)
    rows_per_chunk = max(1, CHUNK_ELEMENTS // max(1, n * bm)) * bm
    rows = min(rows_per_chunk, m)
    idx = torch.empty((rows, n), dtype=torch.int32)
    outs = [torch.empty((rows, n), dtype=torch.bfloat16) for _ in range(min(buffers, -(-m // rows)))]
    for i, r0 in enumerate(range(0, m, rows_per_chunk)):
        r1 = min(m, r0 + rows_per_chunk)
        full = (r1 - r0) // bm  # whole block-rows in this chunk
        b0 = r0 // bm
        k = idx[: r1 - r0]
        # byte + its block's table offset. A plain u8 → i32 copy then a same-dtype add is ~6× faster
        # than one mixed-dtype broadcast add on CPU.
        k.copy_(raw[r0:r1])
        if full:
            k[: full * bm].view(full, bm, n).add_(offsets[b0 : b0 + full, None, :])
        if full * bm < r1 - r0:  # the last, partial block-row
            k[full * bm :].add_(offsets[b0 + full])
        out = outs[i % len(outs)][: r1 - r0]
        torch.index_select(table, 0, k.view(-1), out=out.view(-1))
        yield r0, out


def dequant_tensor(weight: Any, scale: Any, block: tuple[int, int]) -> Any:
    """The whole BF16 tensor at once, for in-memory callers; the stage itself streams ``dequant_chunks``."""
    import torch

    out = torch.empty(tuple(weight.shape), dtype=torch.bfloat16)
    for r0, chunk in dequant_chunks(weight, scale, block, buffers=1):
        out[r0 : r0 + chunk.shape[0]].copy_(chunk)
    return out


def _tensor_bytes(t: Any) -> memoryview:
    """A zero-copy byte view of a contiguous CPU tensor (no numpy needed); keep ``t`` alive while using it."""
    import ctypes

    nbytes = t.numel() * t.element_size()
    if nbytes == 0:
        return memoryview(b"")
    return memoryview((ctypes.c_char * nbytes).from_address(t.data_ptr())).cast("B")


# --------------------------------------------------------------------------------------------------
# Orchestration


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def _sigterm_raises() -> Iterator[None]:
    """Turn SIGTERM into an exception (main thread only) so the partial folder is cleaned up."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise Terminated(f"terminated by signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _is_within(child: Path, parent: Path) -> bool:
    try:
        child.relative_to(parent)
    except ValueError:
        return False
    return True


def _check_paths(src: Path, dst: Path, force: bool, dry_run: bool) -> None:
    if not src.is_dir():
        raise DequantInputError(f"SRC {src} is not a folder; point it at the FP8 checkpoint's folder.")
    if dst == src or _is_within(dst, src):
        raise DequantInputError(f"DST {dst} is SRC or inside it; choose a destination outside the source folder.")
    if _is_within(src, dst):
        raise DequantInputError(
            f"SRC {src} is inside DST {dst}; choose a destination that does not contain the source."
        )
    if dst.exists():
        if not dst.is_dir():
            raise DequantInputError(f"DST {dst} exists and is not a folder; remove it or choose another destination.")
        if any(dst.iterdir()) and not force:
            raise DequantInputError(
                f"DST {dst} is not empty; pass --force to replace it or choose another destination."
            )
    parent = dst.parent
    if not parent.is_dir():
        raise DequantInputError(f"the parent folder of DST, {parent}, does not exist; create it first.")
    if not dry_run and not os.access(parent, os.W_OK | os.X_OK):
        raise DequantInputError(f"cannot write in {parent} (permission denied); choose a writable destination.")


def _rewrite_config(config: dict[str, Any]) -> dict[str, Any]:
    out = dict(config)
    out.pop("quantization_config", None)
    out["torch_dtype"] = "bfloat16"
    if "dtype" in out:
        out["dtype"] = "bfloat16"
    return out


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def verify_output(out_dir: Path, plan: Plan) -> None:
    """Re-read every output header: each non-scale input tensor present once with the right dtype and shape."""
    expected = {t.src.name: (t.dtype, t.src.shape) for t in plan.tensors}
    seen: dict[str, tuple[str, tuple[int, ...]]] = {}
    weight_map: dict[str, str] = {}
    for name in plan.shard_names:
        shard = read_header(out_dir / name)
        end = max((t.start + t.nbytes for t in shard.tensors), default=0)
        if shard.tensors and end != shard.size:
            raise DequantError(f"output shard {name} has {shard.size - end} stray bytes; the write was incomplete.")
        for t in shard.tensors:
            if t.name in seen:
                raise DequantError(f"output tensor {t.name!r} was written twice; this is a bug, please report it.")
            seen[t.name] = (t.dtype, t.shape)
            weight_map[t.name] = name
    if seen != expected:
        missing = sorted(set(expected) - set(seen))
        wrong = sorted(k for k in expected if k in seen and seen[k] != expected[k])
        raise DequantError(
            f"output verification failed: {len(missing)} tensor(s) missing (first: {missing[:1]}), "
            f"{len(wrong)} with the wrong dtype/shape (first: {wrong[:1]}); the output was discarded."
        )
    index = out_dir / INDEX_NAME
    if len(plan.shard_names) > 1:
        data = json.loads(index.read_text(encoding="utf-8"))
        if data.get("weight_map") != weight_map:
            raise DequantError("output index weight_map does not match the shards; the output was discarded.")


def _write_shard(
    path: Path, items: list[OutTensor], plan: Plan, reader: _Reader, progress: Callable[[str], None]
) -> int:
    header = write_header_bytes([(t.src.name, t.dtype, t.src.shape, t.nbytes) for t in items], plan.metadata)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    writer = _Writer(fd)
    try:
        writer.put(memoryview(header), None)
        written = len(header)
        for ot in items:
            if ot.scale is None:
                reader.copy_to(ot.src, writer)
            else:
                weight = _as_tensor(reader.read(ot.src), ot.src.dtype, ot.src.shape)
                scale = _as_tensor(reader.read(ot.scale), ot.scale.dtype, ot.scale.shape)
                for _r0, chunk in dequant_chunks(weight, scale, plan.block):
                    writer.put(_tensor_bytes(chunk), chunk)
                del weight
            written += ot.nbytes
            progress(ot.src.name)
        writer.close()  # no fsync here: the kernel writes back while we compute the next shard
    finally:
        writer.abort()
        os.close(fd)
    return written


def dequantize(
    src: Path,
    dst: Path,
    *,
    block: int | None,
    force: bool,
    dry_run: bool,
    emit: Emit,
    max_shard_bytes: int | None = None,
) -> dict[str, Any]:
    """Convert the FP8 checkpoint in ``src`` to BF16 in ``dst``; emit progress/log/result events; return the result.

    Raises ``DequantInputError`` (exit 2) for bad input and ``DequantError`` (exit 1) for a failed run; in
    both cases, and on KeyboardInterrupt / SIGTERM, nothing is left at ``dst`` or beside it.
    ``throughput_mb_s`` is output megabytes (1e6 bytes) written per second of wall time.
    ``max_shard_bytes`` overrides the output shard size (default: the largest input shard, 1–4 GiB).
    """
    t0 = time.monotonic()
    # resolve(): a symlinked DST must not sneak into (or around) SRC.
    src = Path(src).resolve()
    dst = Path(dst).resolve()
    _check_paths(src, dst, force, dry_run)
    plan = make_plan(src, block, max_shard_bytes=max_shard_bytes)
    extra_bytes = sum(p.stat().st_size for p in plan.extra_files if p.is_file())
    converted, copied = plan.converted, plan.copied
    emit({"event": "log", "level": "info", "message": (
        f"plan: convert {len(converted)} FP8 tensor(s) to BF16 ({plan.block[0]}×{plan.block[1]} blocks), "
        f"copy {len(copied)}, drop {len(plan.dropped)} scale(s); {len(plan.shards)} output shard(s), "
        f"{_mb(plan.output_bytes)} of tensors")})  # fmt: skip
    orphans = sorted({d.name for d in plan.dropped} - {t.scale.name for t in converted if t.scale is not None})
    if orphans:
        emit(
            {
                "event": "log",
                "level": "warning",
                "message": f"{len(orphans)} scale(s) without an FP8 weight will be dropped (first: {orphans[0]})",
            }
        )
    if not converted:
        emit({"event": "log", "level": "warning", "message": "no FP8 tensors found: the output is a plain copy"})

    reader = _Reader()
    try:
        # Validate every scale's values before any heavy work: a bad scale must fail in seconds, not at 90 %.
        try:
            import torch  # noqa: F401
        except ImportError as exc:
            if not dry_run:
                raise DequantError(
                    "torch is not installed in this Python; run the stage in the serving environment."
                ) from exc
            emit({"event": "log", "level": "warning", "message": "torch not installed: scale values not checked"})
        else:
            for ot in converted:
                assert ot.scale is not None
                check_scale_values(_as_tensor(reader.read(ot.scale), ot.scale.dtype, ot.scale.shape), ot.scale.name)

        if dry_run:
            # The plan, one line per tensor, so the operator can read exactly what a real run would do.
            for ot in plan.tensors:
                what = f"convert {ot.src.dtype} → BF16" if ot.scale is not None else f"copy {ot.src.dtype}"
                emit({"event": "log", "level": "info", "message": f"{what} {ot.src.name} {list(ot.src.shape)}"})
            for d in plan.dropped:
                emit({"event": "log", "level": "info", "message": f"drop {d.name} {list(d.shape)}"})
            emit({"event": "log", "level": "info", "message": (
                f"output: {_mb(plan.output_bytes + extra_bytes)} in {len(plan.shards)} shard(s) plus "
                f"{len(plan.extra_files)} other file(s); nothing written (dry run)")})  # fmt: skip
            result: dict[str, Any] = {
                "dry_run": True,
                "tensors_converted": len(converted), "tensors_copied": len(copied), "scales_dropped": len(plan.dropped),
                "bytes_read": reader.bytes_read, "bytes_written": 0, "output_bytes": plan.output_bytes + extra_bytes,
                "seconds": round(time.monotonic() - t0, 3), "throughput_mb_s": 0.0, "output": str(dst),
                "shards": len(plan.shards), "block": list(plan.block),
                "plan": {"convert": [t.src.name for t in converted], "copy": [t.src.name for t in copied],
                         "drop": [d.name for d in plan.dropped], "files": [p.name for p in plan.extra_files]},
            }  # fmt: skip
            emit({"event": "result", **result})
            return result

        needed = plan.output_bytes + extra_bytes + DISK_MARGIN
        free = shutil.disk_usage(dst.parent).free
        if free < needed:
            raise DequantError(
                f"not enough free space in {dst.parent}: need {_mb(needed)}, have {_mb(free)}; free some space or "
                "choose another destination."
            )

        partial = dst.parent / f".{dst.name}.partial-{os.getpid()}"
        with _sigterm_raises():
            try:
                _write_all_outputs(partial, plan, reader, emit)
                _install(partial, dst)
            except BaseException:
                shutil.rmtree(partial, ignore_errors=True)
                raise
    finally:
        reader.close()

    seconds = time.monotonic() - t0
    bytes_written = sum((dst / n).stat().st_size for n in plan.shard_names)
    result = {
        "tensors_converted": len(converted), "tensors_copied": len(copied), "scales_dropped": len(plan.dropped),
        "bytes_read": reader.bytes_read, "bytes_written": bytes_written, "seconds": round(seconds, 3),
        "throughput_mb_s": round(bytes_written / 1e6 / seconds, 1) if seconds > 0 else 0.0,
        "output": str(dst), "shards": len(plan.shard_names), "block": list(plan.block),
    }  # fmt: skip
    emit({"event": "result", **result})
    return result


def _write_all_outputs(partial: Path, plan: Plan, reader: _Reader, emit: Emit) -> None:
    try:
        partial.mkdir()
    except OSError as exc:
        raise DequantError(
            f"cannot create {partial}: {exc.strerror or exc}; check the destination is writable."
        ) from exc
    total = len(plan.tensors)
    done = 0

    def progress(name: str) -> None:
        nonlocal done
        done += 1
        emit({"event": "progress", "done": done, "total": total, "unit": "tensor", "message": name})

    try:
        for name, items in zip(plan.shard_names, plan.shards, strict=True):
            _write_shard(partial / name, items, plan, reader, progress)
        if len(plan.shard_names) > 1:
            weight_map = {t.src.name: n for n, items in zip(plan.shard_names, plan.shards, strict=True) for t in items}
            index = {"metadata": {"total_size": plan.output_bytes}, "weight_map": weight_map}
            (partial / INDEX_NAME).write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
        if plan.config is not None:
            (partial / "config.json").write_text(
                json.dumps(_rewrite_config(plan.config), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
            )
        for p in plan.extra_files:
            if p.is_dir():
                shutil.copytree(p, partial / p.name, symlinks=False)
            else:
                shutil.copy2(p, partial / p.name)
    except OSError as exc:
        raise DequantError(
            f"writing the output failed: {exc.strerror or exc}"
            f"{' (' + str(exc.filename) + ')' if exc.filename else ''}; check free space and permissions."
        ) from exc
    # One fsync pass at the end instead of one per shard: a per-shard fsync stalls the computation while
    # the disk catches up, and by now background writeback has done most of the work anyway.
    for name in plan.shard_names:
        _fsync_file(partial / name)
    verify_output(partial, plan)
    emit(
        {
            "event": "log",
            "level": "info",
            "message": f"verified {total} output tensor(s) in {len(plan.shards)} shard(s)",
        }
    )
    fsync_dir(partial)


def _install(partial: Path, dst: Path) -> None:
    """Put the finished folder at DST; an existing DST (only with --force) is moved aside, then removed."""
    old: Path | None = None
    if dst.exists():
        if any(dst.iterdir()):
            old = dst.parent / f".{dst.name}.old-{os.getpid()}"
            os.rename(dst, old)
        else:
            dst.rmdir()
    try:
        os.rename(partial, dst)
    except BaseException:
        if old is not None:
            os.rename(old, dst)
        raise
    fsync_dir(dst.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# --------------------------------------------------------------------------------------------------
# Command line


def _print_event(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _pin_mmap_threshold() -> None:
    """Make glibc serve every allocation ≥ 1 MiB with its own mmap, returned to the OS on free.

    By default glibc raises its mmap threshold after the first big free (up to 32 MiB), so the per-chunk
    buffers then come from the heap, fragment it and are never given back: peak RSS measured ~2.7× the
    largest BF16 tensor over the interpreter instead of ~1.3×. Best effort: a no-op off glibc.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 1024 * 1024)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m tui.stages.dequant``; returns the exit status (0, 1 failed run, 2 bad input)."""
    parser = argparse.ArgumentParser(prog="python -m tui.stages.dequant", description="FP8 → BF16 dequantization")
    parser.add_argument("src", type=Path, help="FP8 checkpoint folder")
    parser.add_argument("dst", type=Path, help="BF16 output folder (created; must be empty unless --force)")
    parser.add_argument("--block", type=int, default=None, help="block size (default: config.json, else 128)")
    parser.add_argument("--force", action="store_true", help="replace a non-empty DST")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and output size; write nothing")
    args = parser.parse_args(argv)
    _pin_mmap_threshold()
    try:
        dequantize(args.src, args.dst, block=args.block, force=args.force, dry_run=args.dry_run, emit=_print_event)
    except DequantError as exc:
        _print_event({"event": "error", "message": str(exc)})
        return exc.exit_code
    except (KeyboardInterrupt, Terminated):
        _print_event({"event": "error", "message": "dequantization was cancelled; nothing was written to DST."})
        return 1
    except MemoryError:
        _print_event({"event": "error", "message": "ran out of memory; close other jobs or use a larger host."})
        return 1
    except OSError as exc:
        _print_event({"event": "error", "message": f"dequantization failed: {exc}; check the paths and free space."})
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
