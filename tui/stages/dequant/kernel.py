"""The dequant math: bf16(fp32(weight) × fp32(scale expanded to the block)), bit-exact, in bounded chunks.

torch is imported inside each function: the console (and ``--help``) must import this package on hosts
without torch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tui.stages.dequant.errors import DequantInputError

# Elements per FP32 work chunk: big enough to amortise the Python loop, small enough to stay in cache-ish
# memory and far below the size of the tensors that matter.
CHUNK_ELEMENTS = 8 * 1024**2

TORCH_DTYPES = {"F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2", "F32": "float32", "BF16": "bfloat16",
                "F16": "float16"}  # fmt: skip


def as_tensor(buf: bytearray, dtype: str, shape: tuple[int, ...]) -> Any:
    """A torch tensor over ``buf`` (no copy) with the safetensors ``dtype`` and ``shape``."""
    import torch

    tdtype = getattr(torch, TORCH_DTYPES[dtype])
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


def tensor_bytes(t: Any) -> memoryview:
    """A zero-copy byte view of a contiguous CPU tensor (no numpy needed); keep ``t`` alive while using it."""
    import ctypes

    nbytes = t.numel() * t.element_size()
    if nbytes == 0:
        return memoryview(b"")
    return memoryview((ctypes.c_char * nbytes).from_address(t.data_ptr())).cast("B")
