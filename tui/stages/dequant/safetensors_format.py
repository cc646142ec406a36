"""The safetensors file format, read and written with the stdlib only (no torch, no safetensors).

A file is an 8-byte little-endian header length, a JSON header (``name → {dtype, shape, data_offsets}``
plus an optional ``__metadata__`` of strings), then the tensors' bytes. Parsing it here means the plan,
the dry run, the truncation check and the final verification need no torch at all.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui.stages.dequant.errors import DequantInputError

DTYPE_SIZES: dict[str, float] = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8,
}  # fmt: skip
MAX_HEADER_BYTES = 256 * 1024**2  # a bigger header is a corrupt file, not a model


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
            if hlen > size - 8 or hlen > MAX_HEADER_BYTES:
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
