"""Sentence embeddings cached on disk, keyed like features: an unchanged encoder (e.g. the baseline's
pretrained model, identical in every seed) embeds each retrieval corpus once, not once per cell."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from ..data.features import cache_root, content_fingerprint
from .model import embed


def encoder_fingerprint(encoder_dir: str | Path) -> list[str] | None:
    """Content hashes of every file of a local encoder directory (weights, config, tokenizer); None for a
    hub id, whose contents cannot be checked here (no caching then)."""
    directory = Path(encoder_dir)
    if not directory.is_dir():
        return None
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    return [str(p.relative_to(directory)) for p in files] + content_fingerprint(files)


def cached_embed(encoder_dir: str | Path, encoder, tokenizer, texts: list[str], layer: int = -1, pooling: str = "mean",
                 max_length: int = 512, batch_size: int = 64, enabled: bool = True) -> np.ndarray:
    """embed(encoder, tokenizer, texts, ...) for the encoder saved in `encoder_dir`, from the cache when the
    same encoder files already embedded the same texts with the same settings."""
    fingerprint = encoder_fingerprint(encoder_dir) if enabled else None
    if fingerprint is None:
        return embed(encoder, tokenizer, texts, layer, pooling, max_length, batch_size)
    key = {"encoder": fingerprint, "texts": hashlib.sha256("\n".join(texts).encode()).hexdigest(), "count": len(texts),
           "layer": layer, "pooling": pooling, "max_length": max_length, "batch_size": batch_size,
           "device": str(next(encoder.parameters()).device.type)}
    path = cache_root().parent / "embeddings" / f"{hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]}.npy"
    if path.exists():
        return np.load(path)
    vectors = embed(encoder, tokenizer, texts, layer, pooling, max_length, batch_size)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.partial.npy")
    np.save(partial, vectors)
    partial.rename(path)  # whole or absent: a killed run never leaves a truncated cache entry
    return vectors
