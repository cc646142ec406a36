"""Whether a run was measured on a cold server, and which replies came in one burst.

Measured on vLLM's CPU build serving a tiny Qwen2 on 2 busy cores (issue 12's "TTFT equal to E2EL,
880 ms against vLLM's 135 ms"):

- the first request after the server starts pays its start-up work: its own TTFT counter read
  39.5 ms for it against 8 ms for the next, and in another cold start its first byte came 2.4×
  later than the next requests' (80 against 33 ms);
- on a CPU-starved host the server's API process falls behind its engine and hands a whole reply
  over at once: vLLM merges the queued tokens into one SSE event or writes them back to back
  (strace of the API process: one write of all 64 tokens, 560 ms after the request reached the
  engine). Every chunk then comes in one network read, TTFT equals E2EL and TPOT/ITL read 0.
  vLLM's own client sees the same replies the same way; neither is a client's doing.

What was ours, and is fixed: the requests file was fsynced on the event loop (up to 30 ms a tick,
holding every stream's reads back; now a writer thread), and warm-up requests opened their own
connections (now they share the run's session, as vLLM's client does). Tokenizer loading and
prompt building happen before the first request, outside the timed window.

The result says when figures are not the server's steady state:

- `cold_start`: the server had finished no request when the measured run began (its
  `vllm:request_success_total` was 0, so no warm-up ran either); None when it exports no counters.
- `burst_replies`: successful multi-token replies whose first and last chunk came in one read.
"""

from __future__ import annotations

from collections.abc import Sequence

from tui.server.serving_metrics import ServingMetrics
from tui.stages.bench.records import RequestRecord

BURST_SHARE = 0.5
"""Above this share of burst replies the run's TPOT and ITL are flagged as meaningless."""


def cold_start(before_run: ServingMetrics | str) -> bool | None:
    """True when the server had served nothing before the measured run; None when it cannot say."""
    if isinstance(before_run, str) or before_run.request_success_total is None:
        return None
    return before_run.request_success_total == 0


def burst_replies(records: Sequence[RequestRecord]) -> tuple[int, int]:
    """(replies whose tokens all came in one read, successful replies of more than one token)."""
    multi = [record for record in records if record.success and (record.output_tokens or 0) > 1]
    return sum(1 for record in multi if record.ttft is not None and record.ttft == record.latency), len(multi)


def notes(cold: bool | None, warmup_requests: int, bursts: int, multi: int, can_warm_up: bool) -> list[str]:
    """The sentences that qualify the figures (empty for a run measured warm and streamed)."""
    found = []
    if cold:
        remedy = "pass --warmup N or run it again" if can_warm_up else "run it again"
        found.append("measured cold: the server had served no request before this run (its /metrics counters were "
                     f"0{' and no warm-up ran' if not warmup_requests else ''}), so the first requests include its "
                     f"start-up work; {remedy}")
    if multi and bursts / multi > BURST_SHARE:
        found.append(f"{bursts} of {multi} replies arrived in one burst (TTFT = E2EL): the server sent nothing until "
                     "it had the whole reply, as a cold or CPU-starved server does; TPOT and ITL measure nothing here")
    return found
