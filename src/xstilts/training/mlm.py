"""Masked-LM on multilingual text, mixed into intermediate training as one more task."""

from __future__ import annotations

from pathlib import Path

import torch
from datasets import Dataset

from ..config import TrainSettings
from ..errors import XstiltsError
from .loop import TrainTask

# MLM's own settings in a phase (task_training.mlm overrides them, as for any task)
MLM_DEFAULTS = TrainSettings(learning_rate=1e-5, batch_size=32, epochs=1.0, max_length=128)


def read_lines(paths) -> list[str]:
    lines = []
    for path in map(Path, paths):
        if not path.exists():
            raise XstiltsError(f"MLM text file not found: {path}")
        lines.extend(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    return lines


def mask_tokens(batch: dict, tokenizer, probability: float) -> dict:
    """BERT masking: of the chosen positions 80% [MASK], 10% random token, 10% unchanged."""
    inputs = batch["input_ids"].clone()
    special = torch.tensor([[t in tokenizer.all_special_ids for t in row] for row in inputs.tolist()])
    chosen = torch.bernoulli(torch.full(inputs.shape, probability)).bool() & ~special & batch["attention_mask"].bool()
    labels = torch.where(chosen, inputs, torch.full_like(inputs, -100))
    replace = torch.bernoulli(torch.full(inputs.shape, 0.8)).bool() & chosen
    inputs[replace] = tokenizer.mask_token_id
    randomise = torch.bernoulli(torch.full(inputs.shape, 0.5)).bool() & chosen & ~replace
    inputs[randomise] = torch.randint(len(tokenizer), inputs.shape)[randomise]
    return {**batch, "input_ids": inputs, "labels": labels}


def mlm_task(paths, tokenizer, max_length: int, batch_size: int, probability: float = 0.15) -> TrainTask:
    encoded = tokenizer(read_lines(paths), truncation=True, max_length=max_length)
    features = Dataset.from_dict({k: list(v) for k, v in encoded.items() if k in ("input_ids", "attention_mask")})
    return TrainTask("mlm", "mlm", features, batch_size, lambda batch: mask_tokens(batch, tokenizer, probability))
