"""Teacher-forced forward passes: the same token ids in, every position's logits and hidden states out.

One prompt at a time (batch 1, no padding, so no attention mask can differ between the sides), under
`torch.inference_mode`. Results come back as float32 CPU tensors (a bf16 value widens exactly), so the
comparison never depends on where a side ran; a run keeps only logits and hidden states, which are small
next to the weights, so one model is loaded at a time.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class PromptRun:
    """One prompt through one model: logits [T, V] and hidden states (N + 1 entries of [T, H])."""

    logits: torch.Tensor
    hidden: tuple[torch.Tensor, ...]


def run_prompts(model: Any, id_lists: Sequence[Sequence[int]], device: str,
                on_prompt: Callable[[int], None] | None = None) -> list[PromptRun]:
    """Each prompt's logits and hidden states; `on_prompt(i)` after prompt i (progress)."""
    runs = []
    for index, ids in enumerate(id_lists):
        input_ids = torch.tensor([list(ids)], dtype=torch.long, device=torch.device(device))
        with torch.inference_mode():
            output = model(input_ids=input_ids, output_hidden_states=True, use_cache=False)
        logits = output.logits[0].detach().to("cpu", torch.float32)
        hidden = tuple(h[0].detach().to("cpu", torch.float32) for h in output.hidden_states)
        runs.append(PromptRun(logits, hidden))
        if on_prompt is not None:
            on_prompt(index)
    return runs


def release(model: Any) -> None:
    """Drop a model's memory before the next one loads (device caches included)."""
    del model
    gc.collect()
    for backend in ("cuda", "npu"):
        module = getattr(torch, backend, None)
        try:
            if module is not None and module.is_available():
                module.empty_cache()
        except Exception:  # a broken accelerator must not fail a run that is already done with it
            pass
