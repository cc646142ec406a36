"""What a precision result was measured with: which checkpoint (by fingerprint), which software, which chip.

A verdict is evidence only when someone can tell later what it was about. The fingerprint identifies a
checkpoint without reading its gigabytes: it hashes `config.json` and, for every safetensors file, its
name, size and header (every tensor's name, dtype, shape and offsets), so any change of weights layout,
dtype or file shows; a change of values inside a tensor of the same size does not, which is what a
full hash would cost minutes to catch. Versions come from the imported packages; CANN's from its
install info file when one of the usual places has it. Stdlib only at import (torch is asked lazily).
"""

from __future__ import annotations

import hashlib
import os
import platform
import struct
from pathlib import Path
from typing import Any

CANN_INFO_FILES = (
    "{home}/version.cfg",
    "{home}/ascend_toolkit_install.info",
    "{home}/aarch64-linux/ascend_toolkit_install.info",
    "{home}/x86_64-linux/ascend_toolkit_install.info",
)
CANN_HOMES = ("ASCEND_TOOLKIT_HOME", "ASCEND_HOME_PATH")
CANN_DEFAULT_HOME = "/usr/local/Ascend/ascend-toolkit/latest"
HEADER_LIMIT = 100 * 1024 * 1024  # a safetensors header larger than this is not one


def checkpoint_fingerprint(folder: Path) -> str | None:
    """`sha256:<16 hex>` of the config and every safetensors header in `folder`; None when it has neither."""
    digest = hashlib.sha256()
    found = False
    config = folder / "config.json"
    if config.is_file():
        digest.update(b"config.json\0" + config.read_bytes())
        found = True
    for path in sorted(folder.glob("*.safetensors")):
        try:
            with open(path, "rb") as handle:
                raw = handle.read(8)
                if len(raw) < 8:
                    continue
                (length,) = struct.unpack("<Q", raw)
                if length > HEADER_LIMIT:
                    continue
                header = handle.read(length)
            size = path.stat().st_size
        except OSError:
            continue
        digest.update(f"{path.name}\0{size}\0".encode() + header)
        found = True
    return f"sha256:{digest.hexdigest()[:16]}" if found else None


def _version(module: str) -> str | None:
    try:
        imported = __import__(module)
    except Exception:  # an absent or broken package (torch_npu without CANN raises at import)
        return None
    value = getattr(imported, "__version__", None)
    return str(value) if value is not None else None


def cann_version(env: dict[str, str] | None = None) -> str | None:
    """CANN's version from its install info (`version=…` or `Version=…`), else None."""
    source = env if env is not None else dict(os.environ)
    homes = [source[name] for name in CANN_HOMES if source.get(name)] + [CANN_DEFAULT_HOME]
    for home in homes:
        for pattern in CANN_INFO_FILES:
            path = Path(pattern.format(home=home))
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            for line in text.splitlines():
                key, _, value = line.partition("=")
                if key.strip().lower() in ("version", "toolkit_version") and value.strip():
                    return value.strip().strip('"')
    return None


def software_versions() -> dict[str, str | None]:
    """Python, torch, transformers, torch_npu and CANN versions (None for what is not installed)."""
    return {
        "python": platform.python_version(),
        "torch": _version("torch"),
        "transformers": _version("transformers"),
        "torch_npu": _version("torch_npu"),
        "cann": cann_version(),
    }


def device_name(device: str) -> str | None:
    """The accelerator's own name (`Ascend910B3`, `NVIDIA H200`), the CPU's architecture, or None."""
    try:
        import torch

        if device == "cuda":
            return str(torch.cuda.get_device_name(0))
        if device == "npu":
            npu: Any = getattr(torch, "npu", None)
            return str(npu.get_device_name(0)) if npu is not None else None
    except Exception:
        return None
    return platform.machine() or None


def provenance(reference: Path, candidate: Path | None, device: str) -> dict[str, Any]:
    """The `provenance` block of a result: fingerprints, versions, the candidate's device name."""
    return {
        "reference_fingerprint": checkpoint_fingerprint(reference),
        "candidate_fingerprint": checkpoint_fingerprint(candidate) if candidate is not None else None,
        "versions": software_versions(),
        "device_name": device_name(device),
    }
