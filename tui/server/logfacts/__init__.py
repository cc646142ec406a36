"""What a `vllm serve` log says: facts, start-up phases, failures with what to try (no Textual).

The same reader serves the log pane (fed live, chunk by chunk, it reports typed
events), the run directory's `facts.json` and `npu-console log facts`
(RULES.md beside this module: the contract, the rules where it is silent, the
key lines of every vLLM / vllm-ascend version). It reads that wording, and logs
as people save them: ANSI colour, CR LF, process prefixes, tqdm frames, hard
wraps, tracebacks.

Modules, one concern each: `chunks` (physical lines out of chunks cut
anywhere), `normalize` (one physical line made readable), `keylines` (the
key-line patterns, by first word), `statements` (lines that state many facts:
config dump, arguments, echoed command, banner), `fields` (each fact from its
best source), `compilation` (the graph mode from its clues), `errors` (failure
kinds and codes), `failure_context` (what the lines before a failure change:
a traceback through quantization code, an operator's stop), `particulars` (a
failure's own message and details), `vllm_flags` (the flags vLLM knows, for a
did-you-mean), `diagnosis` (the failure value and root-cause ranking),
`hints` (what to try), `phases` (start-up phases and durations), `events` (what
a line changed), `facts` (the accumulator, `LogFacts`).
"""

from __future__ import annotations

from tui.server.logfacts.diagnosis import KINDS, Diagnosis, root_cause
from tui.server.logfacts.events import (
    ErrorFound,
    FactChanged,
    LogEvent,
    PhaseEntered,
    Progress,
    Ready,
    RequestLogged,
    Stats,
    StatsUpdated,
)
from tui.server.logfacts.facts import FACT_KEYS, LogFacts, parse_log_text
from tui.server.logfacts.hints import hint_for
from tui.server.logfacts.phases import LABELS as PHASE_LABELS
from tui.server.logfacts.phases import ORDER as PHASE_ORDER
from tui.server.logfacts.phases import Phase

__all__ = [
    "FACT_KEYS",
    "KINDS",
    "PHASE_LABELS",
    "PHASE_ORDER",
    "Diagnosis",
    "ErrorFound",
    "FactChanged",
    "LogEvent",
    "LogFacts",
    "Phase",
    "PhaseEntered",
    "Progress",
    "Ready",
    "RequestLogged",
    "Stats",
    "StatsUpdated",
    "hint_for",
    "parse_log_text",
    "root_cause",
]
