"""FP8 → BF16 dequant stage: bit-exact against an independent computation, and clean failures.

The reference here deliberately uses the plainest formula (kron-style repeat_interleave of the whole
scale grid, crop, multiply in fp32, cast) so it shares no code path with the chunked implementation.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")
from safetensors import safe_open  # noqa: E402

from tui.stages.dequant import DequantError, DequantInputError, dequantize, main  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]

# name → (shape, kind); kind "fp8" gets a scale, others are copied.
LAYERS: dict[str, tuple[tuple[int, ...], str]] = {
    "model.embed_tokens.weight": ((64, 32), "bf16"),
    "model.layers.0.input_layernorm.weight": ((32,), "bf16"),
    "model.layers.0.self_attn.q_proj.weight": ((200, 130), "fp8"),
    "model.layers.0.self_attn.o_proj.weight": ((128, 256), "fp8"),
    "model.layers.0.mlp.up_proj.weight": ((300, 129), "fp8"),
    "model.layers.0.mlp.down_proj.weight": ((1, 1), "fp8"),
    "model.layers.0.self_attn.q_proj.bias": ((200,), "f32"),
    "model.norm.weight": ((32,), "bf16"),
    "lm_head.weight": ((64, 32), "f16"),
}


def make_tensors(
    scale_dtype: torch.dtype = torch.float32, block: int = 128, fp8: torch.dtype = torch.float8_e4m3fn, seed: int = 0
) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    out: dict[str, torch.Tensor] = {}
    for name, (shape, kind) in LAYERS.items():
        if kind == "fp8":
            m, n = shape
            out[name] = (torch.randn(shape, generator=gen) * 100).clamp(-440, 440).to(fp8)
            grid = (-(-m // block), -(-n // block))
            out[name + "_scale_inv"] = (torch.rand(grid, generator=gen) * 0.01 + 1e-4).to(scale_dtype)
        else:
            dtype = {"bf16": torch.bfloat16, "f32": torch.float32, "f16": torch.float16}[kind]
            out[name] = torch.randn(shape, generator=gen).to(dtype)
    return out


def write_checkpoint(
    folder: Path, tensors: dict[str, torch.Tensor], *, shards: int = 1, block: int | None = 128
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    names = list(tensors)
    if shards == 1:
        safetensors_torch.save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    else:
        # Put each scale in a different shard from its weight on purpose: the index must be honoured.
        weight_map: dict[str, str] = {}
        groups: list[dict[str, torch.Tensor]] = [{} for _ in range(shards)]
        for i, name in enumerate(names):
            groups[i % shards][name] = tensors[name]
        total = 0
        for i, group in enumerate(groups):
            fname = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
            safetensors_torch.save_file(group, str(folder / fname), metadata={"format": "pt"})
            for name, t in group.items():
                weight_map[name] = fname
                total += t.numel() * t.element_size()
        index = {"metadata": {"total_size": total}, "weight_map": weight_map}
        (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    config: dict[str, Any] = {"architectures": ["Qwen3ForCausalLM"], "torch_dtype": "bfloat16", "hidden_size": 32}
    if block is not None:
        config["quantization_config"] = {
            "quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic", "weight_block_size": [block, block]
        }  # fmt: skip
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "tokenizer.json").write_text('{"model": {"type": "BPE"}}')
    (folder / "tokenizer_config.json").write_text('{"chat_template": "{{ messages }}"}')
    (folder / "generation_config.json").write_text('{"temperature": 0.6}')
    (folder / "chat_template.jinja").write_text("{% for m in messages %}{{ m }}{% endfor %}")
    return folder


def reference(weight: torch.Tensor, scale: torch.Tensor, block: int) -> torch.Tensor:
    m, n = weight.shape
    expanded = scale.float().repeat_interleave(block, 0).repeat_interleave(block, 1)[:m, :n]
    return (weight.float() * expanded).to(torch.bfloat16)


def load_output(dst: Path) -> dict[str, torch.Tensor]:
    files = sorted(dst.glob("*.safetensors"))
    out: dict[str, torch.Tensor] = {}
    for f in files:
        with safe_open(str(f), framework="pt") as h:
            for k in h.keys():  # noqa: SIM118 - safe_open is not a mapping
                out[k] = h.get_tensor(k)
    return out


def bits(t: torch.Tensor) -> torch.Tensor:
    return t.contiguous().view(torch.uint8)


def assert_exact(dst: Path, src_tensors: dict[str, torch.Tensor], block: int) -> None:
    out = load_output(dst)
    expected_names = {k for k in src_tensors if not k.endswith("_scale_inv")}
    assert set(out) == expected_names
    for name in expected_names:
        src = src_tensors[name]
        got = out[name]
        if src.dtype in (torch.float8_e4m3fn, torch.float8_e5m2):
            want = reference(src, src_tensors[name + "_scale_inv"], block)
        else:
            want = src
        assert got.dtype == want.dtype, name
        assert got.shape == want.shape, name
        assert torch.equal(bits(got), bits(want)), f"{name} differs"


class Events:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any]) -> None:
        json.dumps(event)  # every event must be JSON-serialisable
        self.events.append(event)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == kind]


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if ".partial-" in p.name or ".old-" in p.name)


# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scale_dtype", [torch.float32, torch.bfloat16])
def test_single_file_is_bit_exact(tmp_path: Path, scale_dtype: torch.dtype) -> None:
    tensors = make_tensors(scale_dtype)
    src = write_checkpoint(tmp_path / "fp8", tensors)
    dst = tmp_path / "bf16"
    ev = Events()
    result = dequantize(src, dst, block=None, force=False, dry_run=False, emit=ev)
    assert_exact(dst, tensors, 128)
    assert result["tensors_converted"] == 4
    assert result["tensors_copied"] == 5
    assert result["scales_dropped"] == 4
    assert result["shards"] == 1
    assert result["bytes_written"] == (dst / "model.safetensors").stat().st_size
    assert result["bytes_read"] > 0 and result["seconds"] >= 0 and "throughput_mb_s" in result
    assert ev.of("result") and ev.of("result")[0]["tensors_converted"] == 4
    progress = ev.of("progress")
    assert progress[-1]["done"] == progress[-1]["total"] == 9 and progress[-1]["unit"] == "tensor"
    config = json.loads((dst / "config.json").read_text())
    assert "quantization_config" not in config and config["torch_dtype"] == "bfloat16"
    for f in ("tokenizer.json", "tokenizer_config.json", "generation_config.json", "chat_template.jinja"):
        assert (dst / f).read_bytes() == (src / f).read_bytes()
    assert not (dst / "model.safetensors.index.json").exists()
    assert leftovers(tmp_path) == []


def test_sharded_input_and_output_with_index(tmp_path: Path) -> None:
    tensors = make_tensors(torch.bfloat16, seed=1)
    src = write_checkpoint(tmp_path / "fp8", tensors, shards=3)
    dst = tmp_path / "bf16"
    result = dequantize(src, dst, block=None, force=False, dry_run=False, emit=Events(), max_shard_bytes=60_000)
    assert_exact(dst, tensors, 128)
    index = json.loads((dst / "model.safetensors.index.json").read_text())
    shard_files = sorted(p.name for p in dst.glob("*.safetensors"))
    assert result["shards"] == len(shard_files) > 1
    assert sorted(set(index["weight_map"].values())) == shard_files
    out = load_output(dst)
    assert index["metadata"]["total_size"] == sum(t.numel() * t.element_size() for t in out.values())
    for name, fname in index["weight_map"].items():
        with safe_open(str(dst / fname), framework="pt") as h:
            assert name in h.keys()  # noqa: SIM118
    assert set(index["weight_map"]) == {k for k in tensors if not k.endswith("_scale_inv")}


def test_block_override_and_e5m2(tmp_path: Path) -> None:
    tensors = make_tensors(block=64, fp8=torch.float8_e5m2, seed=2)
    src = write_checkpoint(tmp_path / "fp8", tensors, block=None)  # no quantization_config at all
    dst = tmp_path / "bf16"
    dequantize(src, dst, block=64, force=False, dry_run=False, emit=Events())
    assert_exact(dst, tensors, 64)


def test_block_from_config(tmp_path: Path) -> None:
    tensors = make_tensors(block=32, seed=3)
    src = write_checkpoint(tmp_path / "fp8", tensors, block=32)
    dequantize(src, tmp_path / "out", block=None, force=False, dry_run=False, emit=Events())
    assert_exact(tmp_path / "out", tensors, 32)


def test_dry_run_writes_nothing_and_reports_the_plan(tmp_path: Path) -> None:
    tensors = make_tensors()
    src = write_checkpoint(tmp_path / "fp8", tensors)
    dst = tmp_path / "bf16"
    ev = Events()
    result = dequantize(src, dst, block=None, force=False, dry_run=True, emit=ev)
    assert not dst.exists() and leftovers(tmp_path) == []
    assert result["dry_run"] is True
    assert len(result["plan"]["convert"]) == 4 and len(result["plan"]["drop"]) == 4
    assert "model.norm.weight" in result["plan"]["copy"]
    expected_out = sum(
        (t.numel() * 2 if t.dtype == torch.float8_e4m3fn else t.numel() * t.element_size())
        for k, t in tensors.items() if not k.endswith("_scale_inv")
    )  # fmt: skip
    assert result["output_bytes"] >= expected_out
    messages = [e["message"] for e in ev.of("log")]
    assert any(
        m.startswith("convert F8_E4M3 → BF16 model.layers.0.self_attn.q_proj.weight [200, 130]") for m in messages
    )
    assert any(m.startswith("copy BF16 model.norm.weight") for m in messages)
    assert any(m.startswith("drop model.layers.0.mlp.up_proj.weight_scale_inv") for m in messages)
    assert any("nothing written (dry run)" in m for m in messages)


def test_force_replaces_non_empty_dst(tmp_path: Path) -> None:
    tensors = make_tensors()
    src = write_checkpoint(tmp_path / "fp8", tensors)
    dst = tmp_path / "bf16"
    dst.mkdir()
    (dst / "stale.txt").write_text("old")
    with pytest.raises(DequantInputError, match=r"not empty.*--force"):
        dequantize(src, dst, block=None, force=False, dry_run=False, emit=Events())
    assert (dst / "stale.txt").exists()
    dequantize(src, dst, block=None, force=True, dry_run=False, emit=Events())
    assert not (dst / "stale.txt").exists()
    assert_exact(dst, tensors, 128)
    assert leftovers(tmp_path) == []


def test_empty_existing_dst_is_fine(tmp_path: Path) -> None:
    tensors = make_tensors()
    src = write_checkpoint(tmp_path / "fp8", tensors)
    (tmp_path / "bf16").mkdir()
    dequantize(src, tmp_path / "bf16", block=None, force=False, dry_run=False, emit=Events())
    assert_exact(tmp_path / "bf16", tensors, 128)


# ---------------------------------------------------------------------------------------------- bad inputs


def _broken(tmp_path: Path, mutate: Any) -> Path:
    tensors = make_tensors()
    mutate(tensors)
    return write_checkpoint(tmp_path / "fp8", tensors)


@pytest.mark.parametrize(
    ("mutate", "pattern"),
    [
        (lambda t: t.pop("model.layers.0.self_attn.q_proj.weight_scale_inv"), r"has no .*_scale_inv.* scale"),
        (
            lambda t: t.__setitem__("model.layers.0.self_attn.q_proj.weight_scale_inv", torch.ones(1, 2)),
            r"scale .*q_proj.weight_scale_inv.* has shape \[1, 2\] .* needs \[2, 2\]",
        ),
        (
            lambda t: t["model.layers.0.mlp.up_proj.weight_scale_inv"].__setitem__((1, 0), float("nan")),
            r"up_proj.weight_scale_inv.* NaN or infinite",
        ),
        (
            lambda t: t["model.layers.0.mlp.up_proj.weight_scale_inv"].__setitem__((0, 1), 0.0),
            r"zero or negative",
        ),
    ],
    ids=["missing-scale", "wrong-shape", "nan-scale", "zero-scale"],
)
def test_bad_scales_fail_cleanly(tmp_path: Path, mutate: Any, pattern: str) -> None:
    src = _broken(tmp_path, mutate)
    dst = tmp_path / "bf16"
    with pytest.raises(DequantInputError, match=pattern):
        dequantize(src, dst, block=None, force=False, dry_run=False, emit=Events())
    assert not dst.exists() and leftovers(tmp_path) == []


def test_truncated_file_fails_cleanly(tmp_path: Path) -> None:
    src = write_checkpoint(tmp_path / "fp8", make_tensors(), shards=2)
    shard = src / "model-00002-of-00002.safetensors"
    shard.write_bytes(shard.read_bytes()[:-100])
    dst = tmp_path / "bf16"
    with pytest.raises(DequantInputError, match=r"model-00002-of-00002.safetensors is truncated.*re-download"):
        dequantize(src, dst, block=None, force=False, dry_run=False, emit=Events())
    assert not dst.exists() and leftovers(tmp_path) == []


def test_garbage_file_fails_cleanly(tmp_path: Path) -> None:
    src = tmp_path / "fp8"
    src.mkdir()
    (src / "model.safetensors").write_bytes(b"\xff" * 7)
    with pytest.raises(DequantInputError, match="not a safetensors file"):
        dequantize(src, tmp_path / "bf16", block=None, force=False, dry_run=False, emit=Events())


@pytest.mark.parametrize("where", ["same", "inside"])
def test_refuses_to_write_into_src(tmp_path: Path, where: str) -> None:
    src = write_checkpoint(tmp_path / "fp8", make_tensors())
    dst = src if where == "same" else src / "bf16"
    before = sorted(p.name for p in src.iterdir())
    with pytest.raises(DequantInputError, match=r"inside|is SRC"):
        dequantize(src, dst, block=None, force=True, dry_run=False, emit=Events())
    assert sorted(p.name for p in src.iterdir()) == before


def test_refuses_dst_that_contains_src(tmp_path: Path) -> None:
    src = write_checkpoint(tmp_path / "models" / "fp8", make_tensors())
    with pytest.raises(DequantInputError, match="inside DST"):
        dequantize(src, tmp_path / "models", block=None, force=True, dry_run=False, emit=Events())
    assert (src / "model.safetensors").exists()


def test_read_only_destination_parent(tmp_path: Path) -> None:
    src = write_checkpoint(tmp_path / "fp8", make_tensors())
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        if os.access(parent, os.W_OK):
            pytest.skip("running as root: chmod does not make a folder read-only")
        with pytest.raises(DequantInputError, match="permission denied"):
            dequantize(src, parent / "bf16", block=None, force=False, dry_run=False, emit=Events())
        assert list(parent.iterdir()) == []
    finally:
        parent.chmod(0o755)


def test_full_disk_is_refused_before_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil
    from collections import namedtuple

    src = write_checkpoint(tmp_path / "fp8", make_tensors())
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: usage(10**9, 10**9 - 1000, 1000))
    with pytest.raises(DequantError, match="not enough free space"):
        dequantize(src, tmp_path / "bf16", block=None, force=False, dry_run=False, emit=Events())
    assert not (tmp_path / "bf16").exists() and leftovers(tmp_path) == []


def test_failure_mid_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write error (disk full, EIO) or Ctrl-C halfway: the partial folder is removed, DST never appears."""
    import tui.stages.dequant.io_threads as mod

    src = write_checkpoint(tmp_path / "fp8", make_tensors())
    calls = {"n": 0}
    real = mod.write_all

    def flaky(fd: int, data: memoryview) -> None:
        calls["n"] += 1
        if calls["n"] == 4:
            raise OSError(28, "No space left on device")
        real(fd, data)

    monkeypatch.setattr(mod, "write_all", flaky)
    with pytest.raises(DequantError, match="No space left on device"):
        dequantize(src, tmp_path / "bf16", block=None, force=False, dry_run=False, emit=Events())
    assert not (tmp_path / "bf16").exists() and leftovers(tmp_path) == []

    calls["n"] = 0

    def interrupted(fd: int, data: memoryview) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        real(fd, data)

    monkeypatch.setattr(mod, "write_all", interrupted)
    with pytest.raises(KeyboardInterrupt):
        dequantize(src, tmp_path / "bf16", block=None, force=False, dry_run=False, emit=Events())
    assert not (tmp_path / "bf16").exists() and leftovers(tmp_path) == []


def test_main_exit_codes_and_error_event(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write_checkpoint(tmp_path / "fp8", make_tensors())
    assert main([str(src), str(src)]) == 2
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[-1]["event"] == "error" and "SRC" in lines[-1]["message"]
    assert main([str(tmp_path / "nope"), str(tmp_path / "out")]) == 2


# ---------------------------------------------------------------------------------------------- subprocess


def test_runs_as_a_module_and_speaks_json_lines(tmp_path: Path) -> None:
    tensors = make_tensors(seed=5)
    src = write_checkpoint(tmp_path / "fp8", tensors, shards=2)
    dst = tmp_path / "bf16"
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "tui.stages.dequant", str(src), str(dst), "--block", "128"],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    kinds = {e["event"] for e in events}
    assert kinds <= {"progress", "log", "result"} and "result" in kinds and "progress" in kinds
    result = events[-1]
    assert result["event"] == "result"
    for key in ("tensors_converted", "tensors_copied", "scales_dropped", "bytes_read", "bytes_written", "seconds",
                "throughput_mb_s", "output", "shards"):  # fmt: skip
        assert key in result
    assert result["output"] == str(dst)
    assert_exact(dst, tensors, 128)

    bad = subprocess.run(
        [sys.executable, "-m", "tui.stages.dequant", str(src), str(dst)],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert bad.returncode == 2
    last = json.loads(bad.stdout.splitlines()[-1])
    assert last["event"] == "error" and "--force" in last["message"]


def test_sigterm_mid_write_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner cancels a stage with SIGTERM: the handler sets a flag, the run raises at its next check."""
    import signal

    import tui.stages.dequant as mod
    import tui.stages.dequant.io_threads as io_threads

    src = write_checkpoint(tmp_path / "fp8", make_tensors())
    real = io_threads.write_all
    calls = {"n": 0}

    def killed(fd: int, data: memoryview) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            os.kill(os.getpid(), signal.SIGTERM)
        real(fd, data)

    monkeypatch.setattr(io_threads, "write_all", killed)
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(mod.Terminated):
        dequantize(src, tmp_path / "bf16", block=None, force=False, dry_run=False, emit=Events())
    assert signal.getsignal(signal.SIGTERM) is before
    assert not (tmp_path / "bf16").exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("block", [128, 32])
def test_many_small_chunks_through_the_writer_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    """Tiny work chunks: many chunks per tensor, partial block-rows at the end, output buffers rotated
    while the writer thread still holds earlier ones; still bit-exact."""
    from tui.stages.dequant import io_threads, kernel

    monkeypatch.setattr(kernel, "CHUNK_ELEMENTS", 1)  # one block-row per chunk
    monkeypatch.setattr(io_threads, "COPY_CHUNK", 7)  # copies in odd-sized pieces too
    tensors = make_tensors(block=block, seed=7)
    src = write_checkpoint(tmp_path / "fp8", tensors, block=block)
    dequantize(src, tmp_path / "out", block=None, force=False, dry_run=False, emit=Events())
    assert_exact(tmp_path / "out", tensors, block)


def test_dequant_tensor_matches_reference() -> None:
    from tui.stages.dequant import dequant_tensor

    gen = torch.Generator().manual_seed(9)
    w = (torch.randn((257, 129), generator=gen) * 50).to(torch.float8_e4m3fn)
    s = torch.rand((3, 2), generator=gen) + 1e-3
    assert torch.equal(bits(dequant_tensor(w, s, (128, 128))), bits(reference(w, s, 128)))


@pytest.mark.parametrize("fp8", [torch.float8_e4m3fn, torch.float8_e5m2])
def test_every_fp8_bit_pattern(fp8: torch.dtype) -> None:
    """The table-driven FP8 → FP32 path agrees with torch's cast for all 256 patterns (NaN stays NaN)."""
    from tui.stages.dequant import dequant_tensor

    w = torch.arange(256, dtype=torch.uint8).repeat(3, 1).view(fp8)  # 3 × 256
    s = torch.tensor([[0.5, 3.0]])
    got, want = dequant_tensor(w, s, (128, 128)), reference(w, s, 128)
    nan = torch.isnan(want)
    assert torch.equal(torch.isnan(got), nan)
    assert torch.equal(bits(got[~nan]), bits(want[~nan]))
