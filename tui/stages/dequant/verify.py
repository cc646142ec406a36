"""The last check before the rename: re-read every output header and compare it with the plan."""

from __future__ import annotations

import json
from pathlib import Path

from tui.stages.dequant.errors import DequantError
from tui.stages.dequant.plan import INDEX_NAME, Plan
from tui.stages.dequant.safetensors_format import read_header


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
