"""Memory settings of a training phase: gradient checkpointing, per-device micro-batches, mixed precision.

`batch_size` is the examples of one step across all processes (the paper's batch), whatever the hardware;
`per_device_batch_size` caps what one process puts through the model at once: a process's share of a batch
is split into that many rows per forward/backward pass and the gradients accumulate over the passes, so
the batches drawn, and the optimizer steps, stay the same on any number or size of devices.
"""

from __future__ import annotations

import math
from contextlib import nullcontext

import torch

from ..config import TrainSettings
from ..errors import XstiltsError
from .dropout import resolve_dropout_masks, set_dropout, use_dropout_masks


def set_checkpointing(encoder, enabled: bool) -> None:
    """HF gradient checkpointing on the encoder (non-reentrant: inputs need no grad, DDP-safe)."""
    if not enabled:
        return
    if not getattr(encoder, "supports_gradient_checkpointing", False):
        raise XstiltsError(f"gradient_checkpointing: {type(encoder).__name__} does not support it; set it to false")
    # transformers 5.2x renamed gradient_checkpointing_enable to activation_checkpointing_enable
    enable = getattr(encoder, "activation_checkpointing_enable", None) or encoder.gradient_checkpointing_enable
    enable({"use_reentrant": False})


def prepare_for_training(model, settings: TrainSettings, device: torch.device) -> str:
    """Before Accelerate wraps the model; returns how dropout masks are drawn on `device`."""
    # No head reads the pooler; frozen, it leaves single-head phases without unused parameters under DDP
    # (its weights never change either way: a parameter without a gradient is not stepped).
    pooler = getattr(model.encoder, "pooler", None)
    if pooler is not None:
        pooler.requires_grad_(False)
    set_checkpointing(model.encoder, settings.gradient_checkpointing)
    set_dropout(model, settings.dropout)
    masks = resolve_dropout_masks(settings.dropout_masks, device)
    use_dropout_masks(model, masks)
    return masks


def passes_per_batch(batch_size: int, processes: int, per_device: int | None) -> int:
    """Forward/backward passes one process needs for its share of a batch."""
    share = math.ceil(batch_size / processes)
    return math.ceil(share / per_device) if per_device else 1


def batch_record(batch_size: int, settings: TrainSettings, processes: int) -> dict:
    """What train_state.json records of one task's batches."""
    passes = passes_per_batch(batch_size, processes, settings.per_device_batch_size)
    return {"effective_batch_size": batch_size * settings.grad_accum, "processes": processes,
            "per_device_batch_size": math.ceil(math.ceil(batch_size / processes) / passes),
            "accumulation_steps": passes * settings.grad_accum}


def backward_in_passes(accelerator, model, head: str, batch: dict[str, torch.Tensor], per_device: int | None) -> torch.Tensor:
    """Forward and backward of one process's share of a batch, in passes of at most `per_device` rows.

    Each pass's loss is weighted by its share of the rows, so the accumulated gradient (and the returned
    loss) is the whole share's for losses averaged over examples; token-averaged losses (tagging, MLM)
    weight passes by examples, not tokens. Gradients are synchronised across processes on the last pass only.
    """
    rows = len(batch["input_ids"])
    passes = math.ceil(rows / per_device) if per_device else 1
    bounds = [round(i * rows / passes) for i in range(passes + 1)]
    total = torch.zeros((), device=accelerator.device)
    for i, (start, end) in enumerate(zip(bounds, bounds[1:])):
        with accelerator.no_sync(model) if i < passes - 1 else nullcontext():
            loss, _ = model(head, **{k: v[start:end] for k, v in batch.items()})
            weighted = loss * ((end - start) / rows)
            accelerator.backward(weighted)
        total += weighted.detach()
    return total
