"""Which kind of failure one log line states, and its Ascend/HCCL code.

Only ERROR/CRITICAL records and lines with no level at all (raw stderr:
tracebacks, torch_npu's error block, CANN's code lines) are asked; a WARNING
that quotes a traceback is not a failure (RULES.md "Errors"). The
kinds are tried in the contract's order and the first that matches wins, so
`RuntimeError: … NPU function error: …, error code is 107001` is an
`ascend_error` with code "107001", not a bare `traceback`. A traceback gives an
entry only at its exception line: one cut off before it gives nothing.

Indented lines are traceback frames and source lines (`  File "…"`,
`    raise RuntimeError("Engine core initialization failed. "`), never the
statement of a failure, so they are skipped before any pattern runs; that also
keeps the cost of a long traceback near zero.
"""

from __future__ import annotations

import re

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

_OOM = re.compile(r"(?:CUDA|NPU|XPU) out of memory|OutOfMemoryError")
_KV = re.compile(
    r"To serve at least one request with the model's max seq len|No available memory for the cache blocks"
    r"|on kv cache allocation is less than requested memory"
)
_ARCHITECTURE = re.compile(r"Error in inspecting model architecture|Model architectures \[.*\] are not supported")
_QUANTIZATION = re.compile(r"quantization is currently not supported in|Unknown quantization method")
_REMOTE_CODE = re.compile(
    r"(?:consider setting|pass the argument|Please pass) `?trust_remote_code=True"
    r"|contains custom code which must be executed"
)
_MODEL_MISSING = re.compile(
    r"Repo id must be in the form 'repo_name' or 'namespace/repo_name'|Invalid repository ID or local directory"
    r"|Cannot find any model weights with|RepositoryNotFoundError|Repository Not Found for url"
    r"|LocalEntryNotFoundError|Cannot find an appropriate cached snapshot folder"
    r"|NotExistError: The model: \S+ has no revision"
)
_MAX_LEN = re.compile(r"max_model_len \(\d+\) is greater than the derived max_model_len")
_BAD_ARGUMENT = re.compile(
    r"[\w./-]+(?: \w+)?: error: (?:unrecognized arguments: |argument -|ambiguous option: "
    r"|the following arguments are required: )"
)
_NO_PLATFORM = re.compile(
    r"Failed to infer device type"
    r"|lib(?:ascendcl|hccl|ge_runner|acl_op_compiler|ascend_hal)\.so: cannot open shared object file"
)
_PORT = re.compile(r"[Aa]ddress already in use|\[Errno 98\]|EADDRINUSE")
_HCCL_CALL = re.compile(r"HCCL function error: .*error code is (\d+)")
_HCCL_CANN = re.compile(r"(?<![\w])(EI\d{4})[:)]")
_HCCL_TIMEOUT = re.compile(r"Watchdog caught collective operation timeout|hccl fftsplus task timeout")
_NPU_CALL = re.compile(r"NPU function error: .*error code is (\d+)")
_PTA = re.compile(r"(?<![\w])(ERR\d{5})(?![\w])")
_CANN = re.compile(r"(?<![\w])(E[EHJKLZ]\d{4})[:)]")
_ACL_GRAPH = re.compile(r"ACLgraph sizes capture fail")
_WORKER = re.compile(
    r"Worker proc \S+ died unexpectedly|WorkerProc hit an exception|WorkerProc failed to start"
    r"|Exception in worker \S+ while processing method|Worker failed with error"
)
_ENGINE_DEAD = re.compile(
    r"EngineCore encountered a fatal error|EngineDeadError|Engine core proc \S+ died unexpectedly"
    r"|AsyncLLM output_handler failed"
)
_ENGINE_INIT = re.compile(
    r"EngineCore failed to start|Engine core initialization failed|Engine process failed to start"
)
_EXCEPTION = re.compile(r"(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception)(?::|$)")

def classify(message: str) -> tuple[str, str | None] | None:
    """(kind, code) of the failure `message` states, or None. `message` has no prefix or record head."""
    if not message or message[0] in " \t":
        if message.startswith("  File ") or message.startswith("    ") or message.startswith("\t"):
            return None
        message = message.strip()
        if not message:
            return None
    if "memory" in message or "OutOfMemory" in message:
        if _OOM.search(message):
            return OOM, None
        if _KV.search(message):
            return KV_CACHE_INSUFFICIENT, None
    if "max seq len" in message and _KV.search(message):
        return KV_CACHE_INSUFFICIENT, None
    if "architecture" in message and _ARCHITECTURE.search(message):
        return UNSUPPORTED_ARCHITECTURE, None
    if "quantization" in message and _QUANTIZATION.search(message):
        return UNSUPPORTED_QUANTIZATION, None
    if ("trust_remote_code" in message or "custom code" in message) and _REMOTE_CODE.search(message):
        return TRUST_REMOTE_CODE, None
    if ("in use" in message or "Errno 98" in message or "EADDRINUSE" in message) and _PORT.search(message):
        return PORT_IN_USE, None
    found = _setup(message)
    if found is not None:
        return found
    found = _hccl(message)
    if found is not None:
        return found
    found = _ascend(message)
    if found is not None:
        return found
    if "orker" in message and _WORKER.search(message):
        return WORKER_DIED, None
    if ("ngine" in message or "AsyncLLM" in message) and _ENGINE_DEAD.search(message):
        return ENGINE_DEAD, None
    if "ngine" in message and _ENGINE_INIT.search(message):
        return ENGINE_INIT_FAILED, None
    if ("rror" in message or "xception" in message) and _EXCEPTION.match(message):
        return TRACEBACK, None
    return None


def _setup(message: str) -> tuple[str, str | None] | None:
    """What the launch asked for cannot be served: model, length, flags, platform (each behind a cheap guard)."""
    if ("epo" in message or "model weights" in message or "snapshot" in message or "NotFound" in message
            or "NotExist" in message) \
            and _MODEL_MISSING.search(message):
        return MODEL_NOT_FOUND, None
    if "max_model_len" in message and _MAX_LEN.search(message):
        return MAX_MODEL_LEN, None
    if "error: " in message and _BAD_ARGUMENT.match(message):
        return BAD_ARGUMENT, None
    if ("device type" in message or ".so: " in message) and _NO_PLATFORM.search(message):
        return NO_PLATFORM, None
    return None


def _hccl(message: str) -> tuple[str, str | None] | None:
    if "HCCL function error" in message:
        match = _HCCL_CALL.search(message)
        if match:
            return HCCL_ERROR, match.group(1)
    if "EI" in message:
        match = _HCCL_CANN.search(message)
        if match:
            return HCCL_ERROR, match.group(1)
    if ("Watchdog" in message or "fftsplus" in message) and _HCCL_TIMEOUT.search(message):
        return HCCL_ERROR, None
    return None


def _may_hold_cann_code(message: str) -> bool:
    """A cheap guard before the CANN code pattern: one of its two-letter families occurs."""
    return "EZ" in message or "EE" in message or "EL" in message or "EH" in message or "EJ" in message \
        or "EK" in message


def _ascend(message: str) -> tuple[str, str | None] | None:
    if "NPU function error" in message:
        match = _NPU_CALL.search(message)
        if match:
            return ASCEND_ERROR, match.group(1)
    if "ERR" in message:
        match = _PTA.search(message)
        if match:
            return ASCEND_ERROR, match.group(1)
    if _may_hold_cann_code(message):
        match = _CANN.search(message)
        if match:
            return ASCEND_ERROR, match.group(1)
    if "ACLgraph" in message and _ACL_GRAPH.search(message):
        return ASCEND_ERROR, None
    return None
