"""A shared pretrained encoder with task heads looked up by name (jiant's design, slimmed)."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from torch import nn
from transformers import AutoModel, AutoTokenizer

from ..errors import XstiltsError
from ..progress import track
from .heads import HEAD_KINDS, MLMHead

ENCODER_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def check_model_path(name_or_path: str) -> str:
    """`~` expanded; a path (not a hub id like "org/name") must be a directory here, or the hub's
    "Repo id must be in the form..." would hide the typo."""
    name_or_path = os.path.expanduser(name_or_path)
    looks_local = name_or_path.startswith((".", "/")) or name_or_path.count("/") > 1
    if looks_local and not Path(name_or_path).is_dir():
        raise XstiltsError(f"cannot load model {name_or_path!r}: directory not found")
    return name_or_path


def load_encoder(name_or_path: str):
    """Load any HuggingFace encoder and its fast tokenizer by hub id or local directory."""
    name_or_path = check_model_path(name_or_path)
    try:
        encoder = AutoModel.from_pretrained(name_or_path)
        tokenizer = AutoTokenizer.from_pretrained(name_or_path)
    except (OSError, ValueError, SafetensorError) as err:  # SafetensorError: a truncated or damaged weights file
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise XstiltsError(f"cannot load model {name_or_path!r}: {first_line}") from None
    if not tokenizer.is_fast:
        raise XstiltsError(f"model {name_or_path!r} has no fast tokenizer (needed for offsets)")
    return encoder, tokenizer


class MultiTaskModel(nn.Module):
    """One encoder, many heads. Heads are created fresh; the encoder carries over between phases."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.heads = nn.ModuleDict()
        self.head_kinds: dict[str, str] = {}

    @property
    def hidden_size(self) -> int:
        return self.encoder.config.hidden_size

    def add_head(self, name: str, kind: str, num_labels: int = 2) -> None:
        if kind == "mlm":
            head = MLMHead(self.hidden_size, self.encoder.get_input_embeddings())
        else:
            head = HEAD_KINDS[kind](self.hidden_size, num_labels)
        self.heads[name] = head.to(next(self.encoder.parameters()).device)
        self.head_kinds[name] = kind

    def forward(self, head: str, **batch):
        encoder_inputs = {k: batch.pop(k) for k in ENCODER_INPUTS if k in batch}
        if self.head_kinds[head] == "multiple_choice":  # [B, C, L] -> [B*C, L]
            encoder_inputs = {k: v.flatten(0, 1) for k, v in encoder_inputs.items()}
        hidden = self.encoder(**encoder_inputs).last_hidden_state
        return self.heads[head](hidden, **batch)

    def save_encoder(self, directory: str | Path, tokenizer) -> None:
        """What phase 2 loads: a plain HF model directory (heads are intentionally dropped)."""
        self.encoder.save_pretrained(directory)
        tokenizer.save_pretrained(directory)


@torch.no_grad()
def embed(encoder, tokenizer, texts, layer: int = -1, pooling: str = "mean", max_length: int = 512,
          batch_size: int = 64, device=None):
    """Sentence embeddings from a chosen hidden layer, mean (over real tokens) or CLS pooled.

    Texts are processed sorted by length so padding is minimal, then restored to input order.
    """
    import numpy as np

    encoder.eval()
    device = device or next(encoder.parameters()).device
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), encoder.config.hidden_size), dtype=np.float32)
    for start in track(range(0, len(order), batch_size), f"embedding {len(texts)} sentences"):
        idx = order[start:start + batch_size]
        batch = tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                          max_length=max_length, return_tensors="pt").to(device)
        states = encoder(**batch, output_hidden_states=True).hidden_states[layer]
        if pooling == "cls":
            pooled = states[:, 0]
        elif pooling == "mean":
            mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)
            pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1)
        else:
            raise XstiltsError(f"unknown pooling {pooling!r}; valid choices: cls, mean")
        out[idx] = pooled.float().cpu().numpy()
    return out
