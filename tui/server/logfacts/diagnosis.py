"""A failure found in a log, and which of several is the root cause.

A failed start prints a cascade: torch_npu's `error code is 107001`, then
ERR00100, the CANN `EE1001` line, then `EngineCore failed to start.`, the API
server's `Engine core initialization failed`, and an `ERR99999` on the way
out. The operator needs the first specific one, not the last loud one, so each
kind has a rank (CONTRACTS.md, expected/NOTES.md): the specific kinds first,
then a bare Python `traceback`, then `worker_died`, `engine_dead`,
`engine_init_failed`; ties go to the earliest line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

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

KINDS: tuple[str, ...] = (
    ENGINE_INIT_FAILED, ENGINE_DEAD, WORKER_DIED, OOM, KV_CACHE_INSUFFICIENT, UNSUPPORTED_QUANTIZATION,
    UNSUPPORTED_ARCHITECTURE, TRUST_REMOTE_CODE, PORT_IN_USE, ASCEND_ERROR, HCCL_ERROR, TRACEBACK,
)
"""Every kind of the contract."""

RANK: dict[str, int] = {
    OOM: 1, KV_CACHE_INSUFFICIENT: 1, UNSUPPORTED_QUANTIZATION: 1, UNSUPPORTED_ARCHITECTURE: 1,
    TRUST_REMOTE_CODE: 1, PORT_IN_USE: 1, HCCL_ERROR: 1, ASCEND_ERROR: 1,
    TRACEBACK: 2, WORKER_DIED: 3, ENGINE_DEAD: 4, ENGINE_INIT_FAILED: 5,
}
"""Root-cause rank per kind: lower is more specific."""


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """One failure: its kind, code (Ascend/HCCL only), first physical line, the line's text, what to try."""

    kind: str
    code: str | None
    line: int
    text: str
    hint: str

    def to_json(self) -> dict[str, object]:
        """The contract's `errors[]` / `root_cause` object, keys in contract order."""
        return {"kind": self.kind, "code": self.code, "line": self.line, "text": self.text, "hint": self.hint}


def root_cause(diagnoses: Iterable[Diagnosis]) -> Diagnosis | None:
    """The most specific diagnosis, the earliest among equals; None when there is none."""
    best: Diagnosis | None = None
    for diagnosis in diagnoses:
        if best is None or (RANK[diagnosis.kind], diagnosis.line) < (RANK[best.kind], best.line):
            best = diagnosis
    return best
