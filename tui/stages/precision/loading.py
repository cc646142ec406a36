"""Which device and dtype, whether the host has the memory, and loading a model folder with transformers.

Device choice for `auto`: `npu` when torch_npu imports and reports a device, else `cuda` when torch sees
one, else `cpu` (a CPU bf16 run is still a real bf16-versus-fp32 check). The memory check reads only the
safetensors headers (stdlib), so it runs before anything heavy is imported or allocated.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DTYPE_NAMES = ("float32", "bfloat16", "float16")
DEVICE_CHOICES = ("auto", "npu", "cuda", "cpu")
SAFETENSORS_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8,
}  # fmt: skip
DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
MEMORY_HEADROOM = 1.2
"""Loading needs the weights plus activations, the tokenizer and the interpreter: 20 % over the weights."""
MAX_HEADER_BYTES = 100 * 1024**2


class PrecisionInputError(Exception):
    """Input the stage cannot use (exit 2): a missing folder, an FP8 checkpoint, an unknown dtype."""


class PrecisionRunError(Exception):
    """The check could not run (exit 1): no memory, no device, a model that does not load."""


@dataclass(frozen=True)
class DeviceChoice:
    device: str
    note: str


def choose_device(requested: str) -> DeviceChoice:
    """`requested` made concrete; an explicit npu/cuda that is not there is a `PrecisionRunError`."""
    import torch

    if requested not in DEVICE_CHOICES:
        raise PrecisionInputError(f"unknown device {requested!r}; use one of {', '.join(DEVICE_CHOICES)}")
    npu_ok, npu_why = _npu_available()
    if requested == "npu" and not npu_ok:
        raise PrecisionRunError(f"--device npu was asked for but {npu_why}; run under the serving "
                                "environment's Python (the profile's [stages] python) or pick another device")
    if requested == "cuda" and not torch.cuda.is_available():
        raise PrecisionRunError("--device cuda was asked for but torch sees no CUDA device; pick another device")
    if requested != "auto":
        return DeviceChoice(requested, f"{requested} as asked")
    if npu_ok:
        return DeviceChoice("npu", "npu: torch_npu is importable and reports a device")
    if torch.cuda.is_available():
        return DeviceChoice("cuda", f"cuda: no NPU ({npu_why}), torch sees a CUDA device")
    return DeviceChoice("cpu", f"cpu: no NPU ({npu_why}) and no CUDA device; a CPU bf16 run is still a real "
                               "bf16-versus-fp32 check")


def _npu_available() -> tuple[bool, str]:
    try:
        import torch
        import torch_npu  # type: ignore[import-not-found]  # noqa: F401  (registers torch.npu)
    except ImportError as exc:
        return False, f"torch_npu is not importable ({exc})"
    except Exception as exc:  # torch_npu raises RuntimeError and others when CANN is broken
        return False, f"torch_npu failed to import ({type(exc).__name__}: {exc})"
    npu = getattr(torch, "npu", None)
    try:
        if npu is not None and npu.is_available() and npu.device_count() > 0:
            return True, ""
    except Exception as exc:
        return False, f"torch.npu failed ({type(exc).__name__}: {exc})"
    return False, "torch_npu reports no NPU device"


def torch_dtype(name: str) -> Any:
    import torch

    if name not in DTYPE_NAMES:
        raise PrecisionInputError(f"unknown dtype {name!r}; use one of {', '.join(DTYPE_NAMES)}")
    return getattr(torch, name)


def check_model_folder(folder: Path) -> None:
    """A folder transformers can load without conversion; an FP8 checkpoint must be dequantized first."""
    if not folder.is_dir():
        raise PrecisionInputError(f"model folder {folder} does not exist or is not a folder")
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise PrecisionInputError(f"{folder} has no config.json; point --model at a Hugging Face model folder")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PrecisionInputError(f"cannot read {config_path}: {exc}") from exc
    quant = config.get("quantization_config") if isinstance(config, dict) else None
    if isinstance(quant, dict) and str(quant.get("quant_method", "")).lower() == "fp8":
        raise PrecisionInputError(f"{folder} is an FP8 checkpoint; dequantize it first (npu-console dequant "
                                  f"{folder} DST) and compare the BF16 folder DST, so both sides load the same weights")
    if not list(folder.glob("*.safetensors")):
        raise PrecisionInputError(f"{folder} has no .safetensors files; save the model with safetensors")


def _header(path: Path) -> dict[str, Any]:
    with open(path, "rb") as handle:
        raw = handle.read(8)
        if len(raw) != 8:
            raise PrecisionInputError(f"{path} is too short to be a safetensors file")
        (length,) = struct.unpack("<Q", raw)
        if length > MAX_HEADER_BYTES:
            raise PrecisionInputError(f"{path} has an implausible header of {length} bytes")
        data = json.loads(handle.read(length))
    if not isinstance(data, dict):
        raise PrecisionInputError(f"{path} has a safetensors header that is not a JSON object")
    return data


def parameter_count(folder: Path) -> int:
    """How many weight elements the folder's safetensors files hold (from their headers only)."""
    total = 0
    for path in sorted(folder.glob("*.safetensors")):
        try:
            header = _header(path)
        except (OSError, ValueError) as exc:
            raise PrecisionInputError(f"cannot read the safetensors header of {path}: {exc}") from exc
        for name, info in header.items():
            if name == "__metadata__" or not isinstance(info, dict):
                continue
            shape = info.get("shape") or []
            total += math.prod(int(dim) for dim in shape)
    return total


def mem_available_bytes(meminfo: str | None = None) -> int | None:
    """MemAvailable from /proc/meminfo (or from `meminfo`, its text); None where the host does not say."""
    if meminfo is None:
        try:
            meminfo = Path("/proc/meminfo").read_text(encoding="ascii", errors="replace")
        except OSError:
            return None
    for line in meminfo.splitlines():
        if line.startswith("MemAvailable:"):
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                factor = 1024 if len(parts) < 3 or parts[2].lower() == "kb" else 1
                return int(parts[1]) * factor
    return None


def _gb(value: float) -> str:
    return f"{value / 1e9:.1f} GB"


def memory_shortfall(folder: Path, dtype: str = "float32", available: int | None = None,
                     meminfo: str | None = None) -> str | None:
    """None when the host can hold a `dtype` copy of the model; else the sentence that says what to do.

    `available` (bytes) or `meminfo` (the text of /proc/meminfo) stand in for the host's MemAvailable, so
    the check can be exercised without a host that is short of memory.
    """
    elements = parameter_count(folder)
    needed = int(elements * DTYPE_BYTES.get(dtype, 4) * MEMORY_HEADROOM)
    free = available if available is not None else mem_available_bytes(meminfo)
    if free is None or needed <= free:
        return None
    return (f"the {dtype} reference of {folder.name} ({elements / 1e9:.2f} B parameters) needs about {_gb(needed)} "
            f"of RAM but only {_gb(free)} is available; free memory (stop the server or other jobs), "
            "run the check on a host with more RAM, or compare a smaller model of the same family, then retry "
            "(--skip-memory-check to try anyway)")


def load_tokenizer(folder: Path) -> Any:
    from transformers import AutoTokenizer  # type: ignore[import-untyped,unused-ignore]

    try:
        return AutoTokenizer.from_pretrained(str(folder))
    except Exception as exc:
        raise PrecisionInputError(f"cannot load the tokenizer of {folder}: {type(exc).__name__}: {exc}") from exc


def load_model(folder: Path, device: str, dtype: str) -> Any:
    """The causal LM in `folder` on `device` in `dtype`, in eval mode, with the eager attention kernel.

    Eager attention on every side: the comparison is about the device's arithmetic, and SDPA picks a
    different kernel per device and dtype.
    """
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as transformers_logging  # type: ignore[import-untyped,unused-ignore]

    # a tqdm bar per load would flood the stage log with \r lines
    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call,unused-ignore]
    model: Any
    try:
        model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch_dtype(dtype),
                                                     attn_implementation="eager")
    except PrecisionInputError:
        raise
    except Exception as exc:
        raise PrecisionRunError(f"transformers could not load {folder} in {dtype}: {type(exc).__name__}: "
                                f"{exc}") from exc
    try:
        model = model.to(device)
    except Exception as exc:
        raise PrecisionRunError(f"could not move {folder.name} to {device}: {type(exc).__name__}: {exc}") from exc
    model.eval()
    return model
