"""A failure found in a log, and which of several is the root cause.

A failed start prints a cascade: torch_npu's `error code is 107001`, then
ERR00100, the CANN `EE1001` line, then `EngineCore failed to start.`, the API
server's `Engine core initialization failed`, and an `ERR99999` on the way
out. The operator needs the first specific one, not the last loud one, so each
kind has a rank (RULES.md): the specific kinds first,
then a bare Python `traceback`, then `worker_died`, `engine_dead`,
`engine_init_failed`; ties go to the earliest line.

Each failure also carries the exception's own `message` (the statement the
operator would otherwise open the log for: `ValueError: User-specified
max_model_len (4096) is greater than …`, without the module path) and, for the
kinds that have them, the particulars as `detail` (which model is missing and
why, both lengths, the flag and the one it probably meant). RULES.md beside
this module holds the rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

ENGINE_INIT_FAILED = "engine_init_failed"
ENGINE_DEAD = "engine_dead"
WORKER_DIED = "worker_died"
OOM = "oom"
KV_CACHE_INSUFFICIENT = "kv_cache_insufficient"
UNSUPPORTED_QUANTIZATION = "unsupported_quantization"
UNSUPPORTED_ARCHITECTURE = "unsupported_architecture"
TRUST_REMOTE_CODE = "trust_remote_code"
PORT_IN_USE = "port_in_use"
ASCEND_ERROR = "ascend_error"
HCCL_ERROR = "hccl_error"
TRACEBACK = "traceback"
MODEL_NOT_FOUND = "model_not_found"
MAX_MODEL_LEN = "max_model_len"
BAD_ARGUMENT = "bad_argument"
NO_PLATFORM = "no_platform"

KINDS: tuple[str, ...] = (
    ENGINE_INIT_FAILED, ENGINE_DEAD, WORKER_DIED, OOM, KV_CACHE_INSUFFICIENT, UNSUPPORTED_QUANTIZATION,
    UNSUPPORTED_ARCHITECTURE, TRUST_REMOTE_CODE, PORT_IN_USE, ASCEND_ERROR, HCCL_ERROR, TRACEBACK,
    MODEL_NOT_FOUND, MAX_MODEL_LEN, BAD_ARGUMENT, NO_PLATFORM,
)
"""Every kind of the contract."""

RANK: dict[str, int] = {
    OOM: 1, KV_CACHE_INSUFFICIENT: 1, UNSUPPORTED_QUANTIZATION: 1, UNSUPPORTED_ARCHITECTURE: 1,
    TRUST_REMOTE_CODE: 1, PORT_IN_USE: 1, HCCL_ERROR: 1, ASCEND_ERROR: 1,
    MODEL_NOT_FOUND: 1, MAX_MODEL_LEN: 1, BAD_ARGUMENT: 1, NO_PLATFORM: 1,
    TRACEBACK: 2, WORKER_DIED: 3, ENGINE_DEAD: 4, ENGINE_INIT_FAILED: 5,
}
"""Root-cause rank per kind: lower is more specific."""


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """One failure: its kind, code (Ascend/HCCL only), first physical line, the line's text, what to try,
    the exception's own message and the kind's particulars (`detail`, None for most kinds)."""

    kind: str
    code: str | None
    line: int
    text: str
    hint: str
    message: str | None = None
    detail: Mapping[str, object] | None = field(default=None, hash=False)

    def to_json(self) -> dict[str, object]:
        """The contract's `errors[]` / `root_cause` object, keys in contract order."""
        return {
            "kind": self.kind, "code": self.code, "line": self.line, "text": self.text, "message": self.message,
            "detail": None if self.detail is None else dict(self.detail), "hint": self.hint,
        }


def root_cause(diagnoses: Iterable[Diagnosis]) -> Diagnosis | None:
    """The most specific diagnosis, the earliest among equals; None when there is none."""
    best: Diagnosis | None = None
    for diagnosis in diagnoses:
        if best is None or (RANK[diagnosis.kind], diagnosis.line) < (RANK[best.kind], best.line):
            best = diagnosis
    return best
