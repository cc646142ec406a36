"""Hidden states layer by layer: which index is which, and where agreement first breaks.

HF's `output_hidden_states=True` returns num_hidden_layers + 1 tensors (checked for transformers 5.23 on
Qwen2/Llama-style models):

* index 0 is the embeddings' output (`embed_tokens`), before any decoder layer;
* index i, 1 <= i < N, is the output of decoder layer i - 1 (`model.layers.{i-1}`);
* index N is the output of the last decoder layer *after the final norm* (`model.norm`), not the raw
  output of `model.layers.{N-1}`.

So decoder layer k (the k of the weight names `model.layers.k.*`) is index k + 1, and the last one is seen
through the final norm. `layer_metrics` returns the decoder layers in that numbering plus the embeddings
apart, so `first_divergent_layer` names the layer an operator would look up in the checkpoint.

The first divergent layer is msprobe's warning rule applied along the stack: the first layer whose cosine
falls below 0.99, or drops by more than 0.1 from the layer before it (the embeddings for layer 0). Errors
accumulate through the stack, so the first such layer is where to look, not necessarily the only bad one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from tui.stages.precision.metrics import cosine, relative_l2

COSINE_FLOOR = 0.99
COSINE_DROP = 0.1


@dataclass(frozen=True)
class LayerMetrics:
    """One hidden-state tensor compared: `layer` is the decoder layer index (None for the embeddings)."""

    layer: int | None
    name: str
    cosine: float
    relative_error: float


def layer_names(count: int) -> list[tuple[int | None, str]]:
    """(layer index, name) for each of the `count` HF hidden-state entries, embeddings first."""
    names: list[tuple[int | None, str]] = [(None, "embed_tokens")]
    for index in range(1, count):
        layer = index - 1
        names.append((layer, f"layers.{layer}" + ("+norm" if index == count - 1 else "")))
    return names


def layer_metrics(ref_hidden: Sequence[torch.Tensor], cand_hidden: Sequence[torch.Tensor]) -> list[LayerMetrics]:
    """Cosine and relative L2 error of every hidden-state entry, over all positions of the prompt.

    The relative error here is ||cand - ref|| / ||ref|| (not msit's elementwise one): hidden states have
    many entries near zero, where the elementwise ratio says nothing.
    """
    if len(ref_hidden) != len(cand_hidden):
        raise ValueError(f"the reference has {len(ref_hidden)} hidden-state entries, the candidate "
                         f"{len(cand_hidden)}: the two models do not have the same number of layers")
    out = []
    for (layer, name), ref, cand in zip(layer_names(len(ref_hidden)), ref_hidden, cand_hidden, strict=True):
        out.append(LayerMetrics(layer, name, cosine(ref, cand), relative_l2(ref, cand)))
    return out


def first_divergent_layer(layers: Sequence[LayerMetrics], floor: float = COSINE_FLOOR,
                          drop: float = COSINE_DROP) -> int | None:
    """The first decoder layer whose cosine is below `floor` or falls by more than `drop`; None if none.

    A NaN cosine (the candidate produced NaN/Inf there) counts as divergent.
    """
    previous: float | None = None
    for entry in layers:
        value = entry.cosine
        broken = not value >= floor or (previous is not None and previous - value > drop)
        if entry.layer is not None and broken:
            return entry.layer
        previous = value
    return None
