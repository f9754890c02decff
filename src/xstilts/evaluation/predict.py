"""Batched inference: features sorted by length so each batch pads as little as possible."""

from __future__ import annotations

import numpy as np
import torch
from accelerate import PartialState
from accelerate.utils import gather_object
from datasets import Dataset

from ..data.features import pad_batch, sequence_lengths
from ..training.precision import autocast


@torch.no_grad()
def predict_logits(model, head: str, features: Dataset, pad_token_id: int, batch_size: int = 64,
                   device=None, precision: str = "no") -> list[np.ndarray]:
    """Logits per feature, in feature order; token-level logits are cut to the feature's length.
    `precision` is the run's resolved precision (bf16/fp16 autocast, or "no")."""
    model.eval()
    device = device or next(model.parameters()).device
    lengths = sequence_lengths(features)
    order = np.argsort(lengths, kind="stable")
    outputs: list[np.ndarray | None] = [None] * len(features)
    columns = [c for c in ("input_ids", "attention_mask", "token_type_ids") if c in features.column_names]
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size].tolist()
        batch = pad_batch(features.select_columns(columns)[idx], pad_token_id)
        with autocast(device, precision):
            _, logits = model(head, **{k: v.to(device) for k, v in batch.items()})
        logits = logits.float().cpu().numpy()
        token_level = logits.ndim == 3 and model.head_kinds[head] != "multiple_choice"
        for row, i in enumerate(idx):
            outputs[i] = logits[row, :lengths[i]] if token_level else logits[row]
    return outputs


def map_sharded(compute, n: int) -> tuple[list, int]:
    """Each process computes compute(its indices) for an interleaved share of range(n); every process
    gets all n outputs in order, and the number it computed itself."""
    state = PartialState()
    # a range: one process selects all rows contiguously (Dataset.select makes no index mapping then)
    mine = range(state.process_index, n, state.num_processes)
    outputs = list(compute(mine)) if mine else []
    if state.num_processes == 1:
        return outputs, len(mine)
    pairs = sorted(gather_object(list(zip(mine, outputs))), key=lambda pair: pair[0])
    return [output for _, output in pairs], len(mine)
