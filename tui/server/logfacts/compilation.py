"""The graph mode a server runs in, from the several places a log names it.

No single line states it in every version, and some lines contradict earlier
ones, so the clues are collected as they come and resolved on demand in this
order (RULES.md, "compilation"): a later explicit override
(`…; setting cudagraph_mode=PIECEWISE`), vllm-ascend's `X compilation enabled
on NPU`, the engine config dump's `cudagraph_mode` (enum repr or JSON number),
the tqdm captions `Capturing CUDA graphs (mixed prefill-decode, PIECEWISE)` /
`(decode, FULL)`, an older JSON config with `"level":3` and `"use_cudagraph":true`
(PIECEWISE, FULL with `"full_cuda_graph":true`); and only when none of these names
a mode, `eager` if the log says the server runs eagerly (`enforce_eager=True`,
`Cudagraph is disabled under eager mode`, `npu not support graph capture`, …).
"""

from __future__ import annotations

EAGER = "eager"


class CompilationClues:
    """What the log said about graph capture so far; `resolve()` gives the contract's `compilation`."""

    __slots__ = ("decode_full", "dump_mode", "eager", "legacy_mode", "mixed_full", "mixed_piecewise", "npu_mode",
                 "override")

    def __init__(self) -> None:
        self.override: str | None = None
        self.npu_mode: str | None = None
        self.dump_mode: str | None = None
        self.mixed_piecewise = False
        self.mixed_full = False
        self.decode_full = False
        self.legacy_mode: str | None = None
        self.eager = False

    def caption(self, batch: str, mode: str) -> bool:
        """Note a capture caption (`mixed prefill-decode`/`decode`, `PIECEWISE`/`FULL`); True if it was new."""
        if batch.startswith("mixed"):
            if mode == "PIECEWISE" and not self.mixed_piecewise:
                self.mixed_piecewise = True
                return True
            if mode == "FULL" and not self.mixed_full:
                self.mixed_full = True
                return True
        elif batch.startswith("decode") and mode == "FULL" and not self.decode_full:
            self.decode_full = True
            return True
        return False

    def _from_captions(self) -> str | None:
        if self.mixed_full:
            return "FULL"
        if self.decode_full:
            return "FULL_AND_PIECEWISE" if self.mixed_piecewise else "FULL_DECODE_ONLY"
        return "PIECEWISE" if self.mixed_piecewise else None

    def resolve(self) -> str | None:
        """The graph mode as the log names it, `eager`, or None when the log does not say."""
        if self.override is not None:
            return self.override
        if self.npu_mode is not None:
            return self.npu_mode
        if self.dump_mode is not None and self.dump_mode != "NONE":
            return self.dump_mode
        from_captions = self._from_captions()
        if from_captions is not None:
            return from_captions
        if self.legacy_mode is not None:
            return self.legacy_mode
        return EAGER if self.eager else None
