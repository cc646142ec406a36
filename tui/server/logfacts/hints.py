"""What the operator should try, in one sentence, per failure kind and per well-known Ascend code.

The console shows the root cause with this sentence under it; the CLI prints it
beside each error. The table is the one place these sentences live, so the log
pane, the report and `npu-console log facts` always agree. A few messages are
common and specific enough (a Triton kernel image, a `--max-model-len` longer
than the model, a KV cache that fits N tokens) to deserve their own sentence;
`hint_for` picks those from the line's text, and otherwise falls back from the
exact code to its CANN family (`EL…` resources, `EI…` HCCL, …) to the kind.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from tui.server.logfacts.diagnosis import (
    ASCEND_ERROR,
    BAD_ARGUMENT,
    ENGINE_DEAD,
    ENGINE_INIT_FAILED,
    HCCL_ERROR,
    KV_CACHE_INSUFFICIENT,
    MAX_MODEL_LEN,
    MODEL_NOT_FOUND,
    NO_PLATFORM,
    OOM,
    PORT_IN_USE,
    TRACEBACK,
    TRUST_REMOTE_CODE,
    UNSUPPORTED_ARCHITECTURE,
    UNSUPPORTED_QUANTIZATION,
    WORKER_DIED,
)

KIND_HINTS: dict[str, str] = {
    ENGINE_INIT_FAILED: "The engine failed to start: the cause is in the error lines before this one.",
    ENGINE_DEAD: (
        "The engine process died: read the error above it, then check the device with `npu-smi info` "
        "before restarting the server."
    ),
    WORKER_DIED: "A worker process failed: its traceback above names the cause.",
    OOM: (
        "The device ran out of memory: lower --max-model-len, --max-num-seqs or --gpu-memory-utilization, "
        "or spread the model over more devices with --tensor-parallel-size."
    ),
    KV_CACHE_INSUFFICIENT: (
        "The KV cache cannot hold one full-length request: lower --max-model-len or give the KV cache more "
        "memory with --gpu-memory-utilization."
    ),
    UNSUPPORTED_QUANTIZATION: (
        "This platform cannot run the checkpoint's quantization: use a checkpoint quantized for it "
        "(on Ascend, W8A8 with --quantization ascend) or an unquantized one."
    ),
    UNSUPPORTED_ARCHITECTURE: (
        "vLLM cannot load this model architecture: use a vLLM/vllm-ascend version that supports it, or check "
        "`architectures` in the model's config.json."
    ),
    TRUST_REMOTE_CODE: "The model ships its own code: add --trust-remote-code if you trust its repository.",
    PORT_IN_USE: (
        "Another process listens on the port: stop it (a leftover server?) or choose another --port."
    ),
    ASCEND_ERROR: (
        "The Ascend runtime reported an error: look the code up in the CANN error reference and check the "
        "device with `npu-smi info`."
    ),
    HCCL_ERROR: (
        "HCCL could not set up communication between the devices: check ASCEND_RT_VISIBLE_DEVICES, the "
        "rank-to-device mapping and the HCCL network (`hccn_tool`)."
    ),
    TRACEBACK: "An unhandled Python exception: fix what its message names.",
    MODEL_NOT_FOUND: (
        "vLLM cannot find the model: check the path (or hub id) given to vllm serve, and that the folder holds "
        "config.json and the weights."
    ),
    MAX_MODEL_LEN: (
        "--max-model-len is longer than the model supports: lower it to the model's max_position_embeddings."
    ),
    BAD_ARGUMENT: "vLLM rejected a command-line flag: fix its name or value in [server.flags] (`vllm serve --help`).",
    NO_PLATFORM: (
        "vLLM found no device platform: on Ascend install vllm-ascend in the serving environment and source "
        "CANN's set_env.sh; for vLLM's CPU build set VLLM_TARGET_DEVICE=cpu."
    ),
}
"""One sentence per contract kind."""

CODE_HINTS: dict[str, str] = {
    "107001": (
        "The device id is invalid or in use: check ASCEND_RT_VISIBLE_DEVICES against `npu-smi info -m` and "
        "stop any process that holds the chip."
    ),
    "107002": "The device context is not set: make sure the process sees its chip (ASCEND_RT_VISIBLE_DEVICES).",
    "207005": (
        "ACL graph capture ran out of NPU streams: capture fewer graph sizes, use FULL_DECODE_ONLY, or start "
        "with --enforce-eager."
    ),
    "207008": (
        "ACL graph capture ran out of NPU streams: capture fewer graph sizes, use FULL_DECODE_ONLY, or start "
        "with --enforce-eager."
    ),
    "500001": (
        "CANN failed to initialise (GE/ACL): make the CANN toolkit match the driver and chip, and source its "
        "set_env.sh before starting."
    ),
    "500002": (
        "CANN failed to initialise (GE/ACL): make the CANN toolkit match the driver and chip, and source its "
        "set_env.sh before starting."
    ),
    "EZ9903": (
        "An aclnn operator rejected its inputs (EZ9903): update CANN and torch_npu to matching versions, or turn "
        "off the feature that calls it (quantization, graph mode)."
    ),
    "EZ9999": (
        "An Ascend operator failed an internal check (EZ9999): the message after the code names the operator "
        "and the parameter it does not support."
    ),
    "EE1001": (
        "A runtime call got an invalid argument, usually the device id: check ASCEND_RT_VISIBLE_DEVICES "
        "against `npu-smi info -m`."
    ),
    "EE9999": (
        "The Ascend runtime failed internally: read the message after the code and check device ids and driver "
        "health with `npu-smi info`."
    ),
    "EH9999": (
        "CANN failed internally (often at initialisation): check that the CANN toolkit matches the driver and chip."
    ),
    "EL0004": "The NPU ran out of memory: lower --gpu-memory-utilization or --max-model-len, or free the device.",
    "EL0006": (
        "The NPU ran out of resources: capture fewer ACL graph sizes, lower memory use, or use --enforce-eager."
    ),
    "ERR00100": "A torch_npu call into ACL failed: the CANN error code printed next to it names the real problem.",
    "ERR00007": (
        "torch_npu does not support this operation here: update CANN and torch_npu, or turn off the feature "
        "(quantization, graph mode) that needs it."
    ),
    "ERR02200": "An HCCL call failed: check device ids, the rank mapping and the HCCL network setup.",
    "ERR99999": "A follow-on failure: fix the first error above.",
}
"""One sentence per well-known Ascend (torch_npu, CANN, PTA) or HCCL code."""

FAMILY_HINTS: dict[str, str] = {
    "EI": (
        "HCCL timed out or failed between ranks: check that every rank started, the HCCL network "
        "(`hccn_tool`), and raise HCCL_CONNECT_TIMEOUT / HCCL_EXEC_TIMEOUT if it is only slow."
    ),
    "EL": "The NPU ran out of a resource: lower memory use or the number of captured graph sizes.",
    "EE": "The Ascend runtime failed: read the message after the code and check the device with `npu-smi info`.",
    "EH": "CANN graph engine failed: check that the CANN toolkit matches the driver and chip.",
    "EZ": "An Ascend operator failed: update CANN/torch_npu or turn off the feature that uses the operator.",
    "ERR": "torch_npu reported an error: the CANN code printed next to it names the real problem.",
}
"""By code family, for codes without their own sentence."""

_KV_FITS = re.compile(r"max seq len \((\d+)\).*estimated maximum model length is (\d+)")
_TEXT_HINTS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    (TRACEBACK, re.compile(r"Triton Error .*kernel image is invalid"),
     "Triton's kernels do not run on this GPU: install a Triton/vLLM build for it or pick an attention/sampling "
     "backend that avoids Triton."),
    (KV_CACHE_INSUFFICIENT, re.compile(r"on kv cache allocation is less than requested memory"),
     "The host has too little free memory for the CPU KV cache: lower VLLM_CPU_KVCACHE_SPACE (GiB) or "
     "--kv-cache-memory-bytes, or free memory used by other processes."),
    (TRACEBACK, re.compile(r"Cannot re-initialize (?:NPU|CUDA) in forked subprocess"),
     "Workers were forked after the device was opened: set VLLM_WORKER_MULTIPROC_METHOD=spawn."),
)


def hint_for(kind: str, code: str | None = None, text: str = "", detail: Mapping[str, object] | None = None) -> str:
    """One sentence saying what to try for a failure of `kind` (with its `code`, the line's `text` and the
    particulars in `detail`, see `particulars.details`)."""
    if detail:
        particular = _particular_hint(kind, detail)
        if particular is not None:
            return particular
    if kind == KV_CACHE_INSUFFICIENT and text:
        match = _KV_FITS.search(text)
        if match:
            needed, fits = int(match.group(1)), int(match.group(2))
            return (
                f"The KV cache fits about {fits:,} tokens but one request needs {needed:,}: lower --max-model-len "
                f"to at most {fits} or give the KV cache more memory (--gpu-memory-utilization)."
            )
    if text:
        for hint_kind, pattern, sentence in _TEXT_HINTS:
            if hint_kind == kind and pattern.search(text):
                return sentence
    if code:
        exact = CODE_HINTS.get(code)
        if exact is not None:
            return exact
        family = FAMILY_HINTS.get("ERR" if code.startswith("ERR") else code[:2])
        if family is not None and kind in (ASCEND_ERROR, HCCL_ERROR):
            return family
    return KIND_HINTS.get(kind, KIND_HINTS[TRACEBACK])


def _particular_hint(kind: str, detail: Mapping[str, object]) -> str | None:
    """The sentence that names the fix with the failure's own particulars (model, lengths, flag, method)."""
    if kind == MODEL_NOT_FOUND:
        return _model_hint(detail)
    if kind == MAX_MODEL_LEN and isinstance(detail.get("supported"), int):
        return (
            f"--max-model-len {detail['requested']} is above what the model supports ({detail['supported']}, its "
            f"{detail.get('source') or 'max_position_embeddings'}): lower --max-model-len to at most "
            f"{detail['supported']}."
        )
    if kind == BAD_ARGUMENT and detail.get("flag"):
        flag, suggestion = detail["flag"], detail.get("suggestion")
        if detail.get("problem") == "unrecognized":
            if suggestion:
                return f"vLLM does not know {flag}: did you mean {suggestion}? Fix its name in [server.flags]."
            return f"vLLM does not know {flag}: remove it from [server.flags] or check `vllm serve --help`."
        if suggestion:
            return f"{flag} got a value it does not accept: did you mean {suggestion}? Fix it in [server.flags]."
        return f"{flag} got a value it does not accept ({detail.get('problem')}): fix it in [server.flags]."
    if kind == UNSUPPORTED_QUANTIZATION and detail.get("quantization"):
        method = detail["quantization"]
        return (
            f"vLLM failed in its {method} quantization code: remove --quantization {method} for an unquantized "
            f"checkpoint, or use a checkpoint and method this platform supports (on Ascend, W8A8 with "
            f"--quantization ascend)."
        )
    return None


def _model_hint(detail: Mapping[str, object]) -> str | None:
    model, reason = detail.get("model") or "the model", detail.get("reason")
    if reason == "missing_path":
        return (
            f"The model folder {model} does not exist: fix the path in the profile's [model] (or the path given to "
            f"vllm serve), or download the model there first."
        )
    if reason == "no_weights":
        return (
            f"{model} holds no weights (*.safetensors or *.bin): finish the download, or point to the folder that "
            f"has them (ModelScope may have written them under a `___` name)."
        )
    if reason == "unknown_hub_id":
        if detail.get("offline"):
            return (
                f"{model} is not in the local hub cache and downloads are off (HF_HUB_OFFLINE): download it first "
                f"or give the path of a local folder."
            )
        return f"No hub repository {model}: check the id's spelling (log in for a gated model) or give a local folder."
    return None
