"""One run from SRC to DST: plan, check the scales, write the shards streaming, verify, install.

Output shards are written *streaming*: the whole output layout (names, dtypes, shapes, offsets) is known
from the input headers, so each shard's header is written first and then every tensor's bytes are
appended and freed. Neither a shard nor even a whole BF16 tensor is ever held in memory: peak RSS is the
largest FP8 tensor plus a few fixed-size chunk buffers. Non-FP8 tensors are byte-copied from the input
file, so "copied unchanged" holds by construction. Shards are fsynced once at the end, before the rename.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tui.files.atomic import fsync_dir
from tui.stages.dequant.errors import DequantError
from tui.stages.dequant.install import check_paths, create_partial, fsync_file, install, resolve_dst
from tui.stages.dequant.io_threads import Reader, Writer
from tui.stages.dequant.kernel import as_tensor, check_scale_values, dequant_chunks, tensor_bytes
from tui.stages.dequant.leftovers import clean_leftovers, release
from tui.stages.dequant.plan import INDEX_NAME, OutTensor, Plan, make_plan
from tui.stages.dequant.safetensors_format import write_header_bytes
from tui.stages.dequant.signals import NEVER, CancelFlag
from tui.stages.dequant.verify import verify_output

Emit = Callable[[dict[str, Any]], None]

# Headroom kept free on the destination disk beyond the output itself (filesystem metadata, logs).
DISK_MARGIN = 64 * 1024**2


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def _log(emit: Emit, message: str, level: str = "info") -> None:
    emit({"event": "log", "level": level, "message": message})


def rewrite_config(config: dict[str, Any]) -> dict[str, Any]:
    """config.json of the BF16 model: no quantization_config, dtype bfloat16."""
    out = dict(config)
    out.pop("quantization_config", None)
    out["torch_dtype"] = "bfloat16"
    if "dtype" in out:
        out["dtype"] = "bfloat16"
    return out


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
    both cases, and on KeyboardInterrupt / SIGTERM, nothing is left at ``dst`` or beside it. What a killed
    run left beside ``dst`` is removed first (named in a warning log event); a symlinked ``dst`` is refused.
    ``throughput_mb_s`` is output megabytes (1e6 bytes) written per second of wall time.
    ``max_shard_bytes`` overrides the output shard size (default: the largest input shard, 1–4 GiB).
    """
    cancel = CancelFlag()
    with cancel.on_signals():
        return _run(Path(src), Path(dst), block=block, force=force, dry_run=dry_run, emit=emit,
                    max_shard_bytes=max_shard_bytes, cancel=cancel)


def _run(
    src: Path, dst: Path, *, block: int | None, force: bool, dry_run: bool, emit: Emit, max_shard_bytes: int | None,
    cancel: CancelFlag,
) -> dict[str, Any]:
    t0 = time.monotonic()
    # resolve(): a symlinked parent must not sneak DST into (or around) SRC; DST itself may not be a link.
    src = src.resolve()
    dst = resolve_dst(dst)
    check_paths(src, dst, force, dry_run)
    plan = make_plan(src, block, max_shard_bytes=max_shard_bytes)
    extra_bytes = sum(p.stat().st_size for p in plan.extra_files if p.is_file())
    converted, copied = plan.converted, plan.copied
    _log(emit, f"plan: convert {len(converted)} FP8 tensor(s) to BF16 ({plan.block[0]}×{plan.block[1]} blocks), "
               f"copy {len(copied)}, drop {len(plan.dropped)} scale(s); {len(plan.shards)} output shard(s), "
               f"{_mb(plan.output_bytes)} of tensors")  # fmt: skip
    orphans = sorted({d.name for d in plan.dropped} - {t.scale.name for t in converted if t.scale is not None})
    if orphans:
        _log(emit, f"{len(orphans)} scale(s) without an FP8 weight will be dropped (first: {orphans[0]})", "warning")
    if not converted:
        _log(emit, "no FP8 tensors found: the output is a plain copy", "warning")

    reader = Reader(cancel)
    try:
        _check_scales(plan, reader, dry_run, emit)
        cancel.check()
        clean_leftovers(dst, lambda message: _log(emit, message, "warning"), dry_run=dry_run)
        if dry_run:
            return _dry_run(plan, dst, reader, extra_bytes, t0, emit)
        check_paths(src, dst, force, dry_run)  # again: a DST a killed run had moved aside may be back
        needed = plan.output_bytes + extra_bytes + DISK_MARGIN
        free = shutil.disk_usage(dst.parent).free
        if free < needed:
            raise DequantError(
                f"not enough free space in {dst.parent}: need {_mb(needed)}, have {_mb(free)}; free some space or "
                "choose another destination."
            )
        cancel.check()
        partial, lock = create_partial(dst)
        try:
            write_all_outputs(partial, plan, reader, emit, cancel)
            cancel.check()  # the last moment a cancel can stop the run: after the rename, DST is done
            install(partial, dst)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        finally:
            release(lock)
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


def _check_scales(plan: Plan, reader: Reader, dry_run: bool, emit: Emit) -> None:
    """Validate every scale's values before any heavy work: a bad scale must fail in seconds, not at 90 %."""
    try:
        import torch  # noqa: F401
    except ImportError as exc:
        if not dry_run:
            raise DequantError(
                "torch is not installed in this Python; run the stage in the serving environment."
            ) from exc
        _log(emit, "torch not installed: scale values not checked", "warning")
        return
    for ot in plan.converted:
        assert ot.scale is not None
        check_scale_values(as_tensor(reader.read(ot.scale), ot.scale.dtype, ot.scale.shape), ot.scale.name)


def _dry_run(plan: Plan, dst: Path, reader: Reader, extra_bytes: int, t0: float, emit: Emit) -> dict[str, Any]:
    """The plan, one line per tensor, so the operator can read exactly what a real run would do."""
    converted, copied = plan.converted, plan.copied
    for ot in plan.tensors:
        what = f"convert {ot.src.dtype} → BF16" if ot.scale is not None else f"copy {ot.src.dtype}"
        _log(emit, f"{what} {ot.src.name} {list(ot.src.shape)}")
    for d in plan.dropped:
        _log(emit, f"drop {d.name} {list(d.shape)}")
    _log(emit, f"output: {_mb(plan.output_bytes + extra_bytes)} in {len(plan.shards)} shard(s) plus "
               f"{len(plan.extra_files)} other file(s); nothing written (dry run)")  # fmt: skip
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


def write_shard(
    path: Path, items: list[OutTensor], plan: Plan, reader: Reader, progress: Callable[[str], None],
    cancel: CancelFlag = NEVER,
) -> int:
    """Write one output shard: its header, then each tensor converted or copied, streaming."""
    header = write_header_bytes([(t.src.name, t.dtype, t.src.shape, t.nbytes) for t in items], plan.metadata)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    writer = Writer(fd, cancel)
    try:
        writer.put(memoryview(header), None)
        written = len(header)
        for ot in items:
            if ot.scale is None:
                reader.copy_to(ot.src, writer)
            else:
                weight = as_tensor(reader.read(ot.src), ot.src.dtype, ot.src.shape)
                scale = as_tensor(reader.read(ot.scale), ot.scale.dtype, ot.scale.shape)
                for _r0, chunk in dequant_chunks(weight, scale, plan.block):
                    writer.put(tensor_bytes(chunk), chunk)
                del weight
            written += ot.nbytes
            progress(ot.src.name)
        writer.close()  # no fsync here: the kernel writes back while we compute the next shard
    finally:
        writer.abort()
        os.close(fd)
    return written


def write_all_outputs(partial: Path, plan: Plan, reader: Reader, emit: Emit, cancel: CancelFlag = NEVER) -> None:
    """Everything DST will hold, written into the (existing, empty) ``partial`` folder and verified there.

    ``cancel`` is checked between every step that may take long, besides inside the reads and writes.
    """
    total = len(plan.tensors)
    done = 0

    def progress(name: str) -> None:
        nonlocal done
        done += 1
        emit({"event": "progress", "done": done, "total": total, "unit": "tensor", "message": name})

    try:
        for name, items in zip(plan.shard_names, plan.shards, strict=True):
            cancel.check()
            write_shard(partial / name, items, plan, reader, progress, cancel)
        if len(plan.shard_names) > 1:
            weight_map = {t.src.name: n for n, items in zip(plan.shard_names, plan.shards, strict=True) for t in items}
            index = {"metadata": {"total_size": plan.output_bytes}, "weight_map": weight_map}
            (partial / INDEX_NAME).write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
        if plan.config is not None:
            (partial / "config.json").write_text(
                json.dumps(rewrite_config(plan.config), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
            )
        for p in plan.extra_files:
            cancel.check()
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
        cancel.check()
        fsync_file(partial / name)
    cancel.check()
    verify_output(partial, plan)
    _log(emit, f"verified {total} output tensor(s) in {len(plan.shards)} shard(s)")
    fsync_dir(partial)
