"""Benchmark of the dequant stage against the disk's I/O floor and its memory bound (issue 6, "Numbers").

    .venv/bin/python tests/stages/bench_dequant.py [--size-gb 2] [--dir /some/disk] [--keep]

Generates an FP8 checkpoint of about ``--size-gb`` (Qwen-like layers, some dimensions not divisible by
128, sharded at ~1 GB) in a temporary folder, then in the same run:

* I/O floor: read every SRC file fully, then write a file of DST's size and fsync it;
* the dequant, as a real subprocess (``python -m tui.stages.dequant``), wall time and peak RSS
  (``ru_maxrss`` from ``os.wait4`` for that one child, i.e. the per-child RUSAGE_CHILDREN figure: the
  generator child is bigger and would mask it in the cumulative maximum). The parent never imports
  torch, so the RSS a child inherits at fork is small;
* the interpreter baseline: peak RSS of a child that imports torch and the stage and does nothing.

Targets: wall ≤ 2 × floor; peak RSS ≤ 2 × largest BF16 tensor + baseline. The page cache is not dropped
(that needs privileges); SRC was just written, so the floor and the dequant both read it warm.
Not collected by pytest (its name does not start with ``test_``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
HIDDEN = 4096
KV = 1024
INTER = 11000  # not a multiple of 128: the scale grid is cropped
VOCAB = 16384


def _fp8(shape: tuple[int, int]) -> object:
    import torch

    # Random finite e4m3fn bit patterns (0x7f / 0xff are NaN), fast to make at GB scale.
    mag = torch.randint(0, 0x7F, shape, dtype=torch.uint8)
    sign = torch.randint(0, 2, shape, dtype=torch.uint8) << 7
    return (mag | sign).view(torch.float8_e4m3fn)


def generate(folder: Path, size_gb: float) -> dict[str, int]:
    """Write a sharded FP8 checkpoint; return sizes for the report."""
    import torch
    from safetensors.torch import save_file

    folder.mkdir(parents=True)
    layer_shapes = {
        "self_attn.q_proj": (HIDDEN, HIDDEN), "self_attn.k_proj": (KV, HIDDEN), "self_attn.v_proj": (KV, HIDDEN),
        "self_attn.o_proj": (HIDDEN, HIDDEN), "mlp.gate_proj": (INTER, HIDDEN), "mlp.up_proj": (INTER, HIDDEN),
        "mlp.down_proj": (HIDDEN, INTER),
    }  # fmt: skip
    per_layer = sum(m * n for m, n in layer_shapes.values())
    embed_bytes = 2 * VOCAB * HIDDEN * 2
    layers = max(1, round((size_gb * 1e9 - embed_bytes) / per_layer))
    shard: dict[str, object] = {}
    shard_bytes = 0
    files: list[str] = []
    weight_map: dict[str, str] = {}
    largest_bf16 = VOCAB * HIDDEN * 2

    def flush() -> None:
        nonlocal shard, shard_bytes
        if not shard:
            return
        name = f"part-{len(files):05d}.safetensors"
        save_file(shard, str(folder / name), metadata={"format": "pt"})  # type: ignore[arg-type]
        files.append(name)
        weight_map.update(dict.fromkeys(shard, name))
        shard, shard_bytes = {}, 0

    def add(name: str, t: object) -> None:
        nonlocal shard_bytes
        shard[name] = t
        shard_bytes += t.numel() * t.element_size()  # type: ignore[attr-defined]
        if shard_bytes >= 1e9:
            flush()

    gen = torch.Generator().manual_seed(0)
    add("model.embed_tokens.weight", torch.randn((VOCAB, HIDDEN), generator=gen).to(torch.bfloat16))
    for i in range(layers):
        for short, (m, n) in layer_shapes.items():
            name = f"model.layers.{i}.{short}.weight"
            add(name, _fp8((m, n)))
            add(name + "_scale_inv", torch.rand((-(-m // 128), -(-n // 128)), generator=gen) * 1e-3 + 1e-5)
            largest_bf16 = max(largest_bf16, m * n * 2)
        add(f"model.layers.{i}.input_layernorm.weight", torch.ones(HIDDEN, dtype=torch.bfloat16))
    add("model.norm.weight", torch.ones(HIDDEN, dtype=torch.bfloat16))
    add("lm_head.weight", torch.randn((VOCAB, HIDDEN), generator=gen).to(torch.bfloat16))
    flush()
    n = len(files)
    renames = {old: f"model-{i + 1:05d}-of-{n:05d}.safetensors" for i, old in enumerate(files)}
    for old, new in renames.items():
        (folder / old).rename(folder / new)
    weight_map = {k: renames[v] for k, v in weight_map.items()}
    total = sum((folder / f).stat().st_size for f in renames.values())
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map})
    )
    (folder / "config.json").write_text(
        json.dumps(
            {"torch_dtype": "bfloat16", "quantization_config": {"quant_method": "fp8", "weight_block_size": [128, 128]}}
        )
    )
    return {"layers": layers, "src_bytes": total, "largest_bf16": largest_bf16}


def io_floor(src: Path, out_bytes: int, scratch: Path) -> tuple[float, float]:
    """Seconds to read every file of SRC, and to write ``out_bytes`` to one file with fsync."""
    chunk = 64 * 1024**2
    t0 = time.perf_counter()
    for f in sorted(src.iterdir()):
        with f.open("rb", buffering=0) as h:
            while h.read(chunk):
                pass
    read_s = time.perf_counter() - t0
    block = os.urandom(chunk)
    t0 = time.perf_counter()
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        left = out_bytes
        while left > 0:
            left -= os.write(fd, block[: min(chunk, left)])
        os.fsync(fd)
    finally:
        os.close(fd)
    write_s = time.perf_counter() - t0
    scratch.unlink()
    return read_s, write_s


def run_child(argv: list[str]) -> tuple[int, str, str, int, float]:
    """Run one child; return (status, stdout, stderr, its own peak RSS in KiB, wall seconds)."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=_env())
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return proc.returncode, out.read().decode(), err.read().decode(), usage.ru_maxrss, wall


def baseline_rss_kb() -> int:
    """Peak RSS of an interpreter that imports torch and the stage (what every dequant run pays anyway)."""
    code = "import torch, tui.stages.dequant\ntorch.ones(1).mul_(2)\n"
    rc, _out, err, rss, _wall = run_child([sys.executable, "-c", code])
    if rc != 0:
        raise SystemExit(err)
    return rss


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-gb", type=float, default=2.0)
    parser.add_argument("--dir", type=Path, default=None, help="where to put the checkpoints (default: $TMPDIR)")
    parser.add_argument("--keep", action="store_true", help="keep the generated folders")
    parser.add_argument("--generate-into", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate_into is not None:  # the child that builds the checkpoint (keeps torch out of the parent)
        print(json.dumps(generate(args.generate_into, args.size_gb)))
        return 0
    base = Path(tempfile.mkdtemp(prefix="bench-dequant-", dir=args.dir))
    try:
        t0 = time.perf_counter()
        rc, out, err, _rss, _wall = run_child(
            [sys.executable, __file__, "--size-gb", str(args.size_gb), "--generate-into", str(base / "fp8")]
        )
        if rc != 0:
            print(err)
            return 1
        info = json.loads(out.splitlines()[-1])
        print(f"generated {info['src_bytes'] / 1e9:.2f} GB FP8 ({info['layers']} layers) in "
              f"{time.perf_counter() - t0:.1f} s")  # fmt: skip

        # The dequant's own plan says how big DST will be.
        dry = subprocess.run(
            [sys.executable, "-m", "tui.stages.dequant", str(base / "fp8"), str(base / "bf16"), "--dry-run"],
            capture_output=True, text=True, check=True, env=_env(),
        )  # fmt: skip
        out_bytes = int(json.loads(dry.stdout.splitlines()[-1])["output_bytes"])

        read_s, write_s = io_floor(base / "fp8", out_bytes, base / "floor.bin")
        floor = read_s + write_s
        print(f"I/O floor: read {info['src_bytes'] / 1e9:.2f} GB in {read_s:.2f} s + write {out_bytes / 1e9:.2f} GB "
              f"with fsync in {write_s:.2f} s = {floor:.2f} s")  # fmt: skip

        rc, out, err, peak_kb, wall = run_child(
            [sys.executable, "-m", "tui.stages.dequant", str(base / "fp8"), str(base / "bf16")]
        )
        if rc != 0:
            print(out[-2000:], err[-2000:], sep="\n")
            return 1
        result = json.loads(out.splitlines()[-1])
        base_kb = baseline_rss_kb()
        bound_kb = 2 * info["largest_bf16"] / 1024 + base_kb
        print(f"dequant: {result['tensors_converted']} converted, {result['tensors_copied']} copied, "
              f"{result['shards']} shards, {result['bytes_written'] / 1e9:.2f} GB written, "
              f"{result['throughput_mb_s']} MB/s")  # fmt: skip
        print(f"wall time: {wall:.2f} s; ratio to I/O floor: {wall / floor:.2f} (target ≤ 2)")
        print(f"peak RSS: {peak_kb / 1024:.0f} MiB; bound 2 × largest BF16 tensor "
              f"({info['largest_bf16'] / 2**20:.0f} MiB) + interpreter ({base_kb / 1024:.0f} MiB) = "
              f"{bound_kb / 1024:.0f} MiB; ratio {peak_kb / bound_kb:.2f} (target ≤ 1)")  # fmt: skip
        print(f"peak RSS above the interpreter: {(peak_kb - base_kb) / 1024:.0f} MiB = "
              f"{(peak_kb - base_kb) * 1024 / info['largest_bf16']:.2f} × largest BF16 tensor")  # fmt: skip
    finally:
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
