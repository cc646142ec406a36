"""The plan of a run: what happens to each tensor, and how the output is sharded, from headers alone.

Every check that needs no tensor bytes happens here, before any heavy work: each FP8 weight has its
``_scale_inv``, the scale grid fits the block size, no tensor appears twice, the index names files that
exist. A bad checkpoint therefore fails in a second with one sentence, not at 90 %.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui.stages.dequant.errors import DequantInputError
from tui.stages.dequant.safetensors_format import TensorInfo, read_header

INDEX_NAME = "model.safetensors.index.json"
SINGLE_NAME = "model.safetensors"
SCALE_SUFFIX = "_scale_inv"
MAX_SHARD_BYTES = 4 * 1024**3
MIN_SHARD_BYTES = 1024**3
DEFAULT_BLOCK = (128, 128)
FP8_DTYPES = {"F8_E4M3", "F8_E5M2"}
SCALE_DTYPES = {"F32", "BF16", "F16"}


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


def _plan_tensor(t: TensorInfo, by_name: dict[str, TensorInfo], blk: tuple[int, int]) -> OutTensor:
    """Copy a non-FP8 tensor; pair an FP8 weight with its checked scale."""
    if t.dtype not in FP8_DTYPES:
        return OutTensor(t, None)
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
    return OutTensor(t, scale)


def _split_into_shards(tensors: list[OutTensor], limit: int) -> list[list[OutTensor]]:
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
    return out_shards


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
            else:
                tensors.append(_plan_tensor(t, by_name, blk))
    # Output shards about the size of the input ones (BF16 doubles the bytes, so roughly twice as many),
    # never over 4 GiB, and never split a small model below 1 GiB.
    limit = max_shard_bytes or min(MAX_SHARD_BYTES, max(MIN_SHARD_BYTES, *(s.size for s in shards)))
    out_shards = _split_into_shards(tensors, limit)
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
