"""What a simulated vLLM-Ascend start-up decides before it loads anything.

Given the model geometry and the command line, this works out the numbers the
start-up log prints and the device memory the engine will hold: weights per chip,
the KV cache that fits in `gpu_memory_utilization` of a 64 GiB chip, the ACL graph
batch sizes vllm-ascend can capture (`1800 // (layers + 1)` streams' worth), and
the compilation mode. The formulas are simple but land near real logs: the
Qwen2.5-0.5B plan gives about 4.4 M KV tokens at 0.9, as a real 910B does.

The plan is computed once in the API server process and handed to the EngineCore
child as JSON, so both print the same values.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tui.sim.host import HBM_TOTAL_MB, read_host
from tui.sim.model_config import DTYPE_BYTES, GIB, ModelFacts
from tui.sim.settings import sim_home

CHIP_HBM_GIB = HBM_TOTAL_MB / 1024
BASELINE_GIB = 3314 / 1024  # what the driver holds on an idle 910B3
NON_TORCH_GIB = 1.5  # HCCL buffers, workspaces, runtime
ACL_GRAPH_STREAM_BUDGET = 1800
DEFAULT_MAX_NUM_SEQS = 128
DEFAULT_MAX_NUM_BATCHED_TOKENS = 2048
BLOCK_SIZE = 128
SHARD_GIB = 4.0

CUDAGRAPH_MODES = ("NONE", "PIECEWISE", "FULL", "FULL_DECODE_ONLY", "FULL_AND_PIECEWISE")


class PlanError(Exception):
    """The configuration cannot start; `message` is vLLM's own wording of why."""


@dataclass(frozen=True)
class EnginePlan:
    """Every derived number of one start-up."""

    model: str
    architecture: str
    num_layers: int
    hidden_size: int
    vocab_size: int
    served_model_names: tuple[str, ...]
    dtype: str
    max_model_len: int
    model_max_len: int
    tensor_parallel_size: int
    chips: tuple[int, ...]
    device_error: str | None
    gpu_memory_utilization: float
    max_num_seqs: int
    max_num_batched_tokens: int
    block_size: int
    enable_prefix_caching: bool
    compilation: str
    graph_max_batch_sizes: int | None
    capture_sizes: tuple[int, ...]
    requested_capture_sizes: int
    weights_gib: float
    activation_gib: float
    kv_cache_gib: float
    kv_bytes_per_token: int
    kv_cache_tokens: int
    graph_gib: float
    shards: int
    load_seconds: float
    reasoning_parser: str
    thinking: bool
    seed: int
    trust_remote_code: bool
    enforce_eager: bool
    quantization: str | None
    load_format: str
    kv_cache_dtype: str

    @property
    def kv_error(self) -> str | None:
        """vLLM's message when the KV cache cannot hold one request of `max_model_len`."""
        if self.kv_cache_gib <= 0:
            return (
                "No available memory for the cache blocks. Try increasing `gpu_memory_utilization` "
                "when initializing the engine. See https://docs.vllm.ai/en/latest/configuration/"
                "conserving_memory.html for more details."
            )
        if self.kv_cache_tokens >= self.max_model_len:
            return None
        needed = self.max_model_len * self.kv_bytes_per_token / GIB
        return (
            f"To serve at least one request with the model's max seq len ({self.max_model_len}), "
            f"({needed:.2f} GiB KV cache is needed, which is larger than the available KV cache "
            f"memory ({self.kv_cache_gib:.2f} GiB). Based on the available memory, the estimated "
            f"maximum model length is {self.kv_cache_tokens}. Try increasing `gpu_memory_utilization` "
            "or decreasing `max_model_len` when initializing the engine. See "
            "https://docs.vllm.ai/en/latest/configuration/conserving_memory.html for more details."
        )

    @property
    def max_concurrency(self) -> float:
        return self.kv_cache_tokens / self.max_model_len if self.max_model_len else 0.0

    @property
    def held_hbm_mb(self) -> int:
        """HBM the engine holds on each chip once it is ready."""
        return round(
            (self.weights_gib + self.activation_gib + NON_TORCH_GIB + max(0.0, self.kv_cache_gib) + self.graph_gib)
            * 1024
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("served_model_names", "chips", "capture_sizes"):
            data[key] = list(data[key])
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EnginePlan:
        values = dict(data)
        for key in ("served_model_names", "chips", "capture_sizes"):
            values[key] = tuple(values[key])
        return cls(**values)


def resolve_dtype(requested: str, model_dtype: str) -> str:
    """vLLM's `--dtype auto` takes the checkpoint's dtype; `half`/`float` are aliases."""
    if requested == "auto":
        return model_dtype if model_dtype in DTYPE_BYTES else "bfloat16"
    return {"half": "float16", "float": "float32"}.get(requested, requested)


def max_model_len_error(requested: int, facts: ModelFacts) -> str:
    """The pydantic validation message vLLM 0.18 raises for a too long `--max-model-len`."""
    return (
        f"User-specified max_model_len ({requested}) is greater than the derived max_model_len "
        f"(max_position_embeddings={facts.max_position_embeddings} or model_max_length=None in "
        "model's config.json). To allow overriding this maximum, set the env var "
        "VLLM_ALLOW_LONG_MAX_MODEL_LEN=1. VLLM_ALLOW_LONG_MAX_MODEL_LEN must be used with extreme "
        "caution. If the model uses relative position encoding (RoPE), positions exceeding "
        "derived_max_model_len lead to nan. If the model uses absolute position encoding, positions "
        "exceeding derived_max_model_len will cause a CUDA array out-of-bounds error."
    )


def visible_chips(env: Mapping[str, str], needed: int, host_chips: int) -> tuple[tuple[int, ...], str | None]:
    """The logic ids the engine will use, and the torch_npu complaint when they are not there.

    ASCEND_RT_VISIBLE_DEVICES lists the chips a process may see (default: all);
    rank r uses the r-th of them. A listed id the host does not have makes the
    runtime see no device at all, as on a real host.
    """
    raw = env.get("ASCEND_RT_VISIBLE_DEVICES", "").strip()
    if raw:
        try:
            listed = [int(part) for part in raw.split(",") if part.strip()]
        except ValueError:
            listed = []
        visible = listed if listed and all(0 <= c < host_chips for c in listed) else []
    else:
        visible = list(range(host_chips))
    if len(visible) < needed:
        device = len(visible) if visible else 0
        return tuple(visible[:needed]), (
            f"Set device failed, invalid device, set device={device}, valid device range is [0, {len(visible)})"
        )
    return tuple(visible[:needed]), None


def default_capture_sizes(max_num_seqs: int) -> list[int]:
    """vLLM's default graph batch sizes: 1, 2, 4, then every 8 up to 2 x max_num_seqs (cap 512)."""
    cap = min(2 * max_num_seqs, 512)
    return [size for size in (1, 2, 4) if size <= cap] + list(range(8, cap + 1, 8))


def _shrink(sizes: list[int], count: int) -> list[int]:
    """Keep `count` sizes spread over the list, first and last included (vllm-ascend's adjustment)."""
    if count >= len(sizes) or count <= 0:
        return sizes
    if count == 1:
        return [sizes[0]]
    step = (len(sizes) - 1) / (count - 1)
    return sorted({sizes[round(i * step)] for i in range(count)})


def _compilation_mode(args: argparse.Namespace) -> str:
    if args.enforce_eager:
        return "eager"
    mode = str(args.compilation_config.get("cudagraph_mode", "PIECEWISE")).upper()
    if mode not in CUDAGRAPH_MODES:
        raise PlanError(f"Invalid cudagraph_mode: {mode!r}. Valid modes: {', '.join(CUDAGRAPH_MODES)}")
    if mode == "NONE" or args.compilation_config.get("mode") == 0:
        return "eager"
    return "PIECEWISE" if mode == "FULL_AND_PIECEWISE" else mode


def _count_shards(model: str, total_gib: float) -> int:
    try:
        files = list(Path(model).glob("*.safetensors"))
    except OSError:
        files = []
    return len(files) if files else max(1, math.ceil(total_gib / SHARD_GIB))


def build_plan(args: argparse.Namespace, facts: ModelFacts, env: Mapping[str, str] | None = None) -> EnginePlan:
    """Derive the plan; raise PlanError with vLLM's message for a configuration it rejects."""
    environ = os.environ if env is None else env
    dtype = resolve_dtype(args.dtype, facts.torch_dtype)
    dtype_bytes = DTYPE_BYTES.get(dtype, 2)
    model_max = facts.max_position_embeddings
    max_model_len = args.max_model_len if args.max_model_len is not None else model_max
    if max_model_len > model_max and environ.get("VLLM_ALLOW_LONG_MAX_MODEL_LEN", "") not in ("1", "true"):
        raise PlanError(max_model_len_error(max_model_len, facts))
    tp = max(1, args.tensor_parallel_size) * max(1, args.pipeline_parallel_size)
    chips, device_error = visible_chips(environ, tp, len(read_host(sim_home(environ)).chips))
    max_num_seqs = args.max_num_seqs or DEFAULT_MAX_NUM_SEQS
    batched = args.max_num_batched_tokens or DEFAULT_MAX_NUM_BATCHED_TOKENS
    compilation = _compilation_mode(args)
    requested_sizes = [int(s) for s in args.compilation_config.get("cudagraph_capture_sizes", [])]
    sizes = sorted(set(requested_sizes)) if requested_sizes else default_capture_sizes(max_num_seqs)
    graph_max: int | None = None
    if compilation != "eager":
        graph_max = ACL_GRAPH_STREAM_BUDGET // ((facts.num_layers + 1) * (2 if tp > 1 else 1))
        captured = _shrink(sizes, graph_max)
    else:
        captured = []
    total_weight_gib = facts.param_count * dtype_bytes / GIB
    weights = total_weight_gib / tp
    activation = 0.9 + batched * facts.hidden_size * 50 / GIB
    requested = args.gpu_memory_utilization * CHIP_HBM_GIB
    kv_gib = requested - BASELINE_GIB - weights - activation - NON_TORCH_GIB
    per_token = facts.kv_bytes_per_token(dtype_bytes, tp)
    kv_tokens = 0
    if kv_gib > 0:
        kv_tokens = int(kv_gib * GIB // per_token) // BLOCK_SIZE * BLOCK_SIZE
    graph_gib = 0.0 if not captured else (0.16 if compilation == "PIECEWISE" else 0.22) * len(captured) / 35
    names = tuple(args.served_model_name) if args.served_model_name else (args.model,)
    prefix_caching = True if args.enable_prefix_caching is None else bool(args.enable_prefix_caching)
    return EnginePlan(
        model=args.model,
        architecture=facts.architecture,
        num_layers=facts.num_layers,
        hidden_size=facts.hidden_size,
        vocab_size=facts.vocab_size,
        served_model_names=names,
        dtype=dtype,
        max_model_len=max_model_len,
        model_max_len=model_max,
        tensor_parallel_size=tp,
        chips=chips,
        device_error=device_error,
        gpu_memory_utilization=args.gpu_memory_utilization,
        max_num_seqs=max_num_seqs,
        max_num_batched_tokens=batched,
        block_size=args.block_size or BLOCK_SIZE,
        enable_prefix_caching=prefix_caching,
        compilation=compilation,
        graph_max_batch_sizes=graph_max,
        capture_sizes=tuple(captured),
        requested_capture_sizes=len(sizes),
        weights_gib=round(weights, 4),
        activation_gib=round(activation, 4),
        kv_cache_gib=round(kv_gib, 2),
        kv_bytes_per_token=per_token,
        kv_cache_tokens=kv_tokens,
        graph_gib=round(graph_gib, 2),
        shards=_count_shards(args.model, total_weight_gib),
        load_seconds=round(0.8 + total_weight_gib * 0.35, 2),
        reasoning_parser=args.reasoning_parser or "",
        thinking=bool(args.reasoning_parser) or facts.is_thinking or any("thinking" in name.lower() for name in names),
        seed=args.seed,
        trust_remote_code=args.trust_remote_code,
        enforce_eager=args.enforce_eager,
        quantization=args.quantization,
        load_format=args.load_format,
        kv_cache_dtype=args.kv_cache_dtype,
    )
