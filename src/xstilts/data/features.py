"""Tokenised features as Arrow datasets, cached on disk (memory-mapped) and reused across runs."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Callable

import torch
from datasets import Dataset, load_from_disk

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids", "labels", "start_positions", "end_positions")
FEATURE_VERSION = "1"  # bump when a featuriser changes its output


def cache_root() -> Path:
    return Path(os.environ.get("XSTILTS_CACHE", Path.home() / ".cache" / "xstilts")) / "features"


def tokenizer_fingerprint(tokenizer) -> str:
    """Identifies a tokenizer by content, not by name (local dirs get re-written with new vocabularies)."""
    cached = getattr(tokenizer, "_xstilts_fingerprint", None)
    if cached is None:
        cached = hashlib.sha256(tokenizer.backend_tokenizer.to_str().encode()).hexdigest()[:16]
        tokenizer._xstilts_fingerprint = cached
    return cached


def file_fingerprint(paths) -> list:
    return [[str(p), p.stat().st_size, p.stat().st_mtime_ns] for p in map(Path, paths)]


@functools.lru_cache(maxsize=None)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def file_sha256(path) -> str:
    """A file's sha256, memoised per size and mtime: a file read again in one process is not hashed again."""
    path = Path(path)
    return _sha256(str(path), path.stat().st_size, path.stat().st_mtime_ns)


def content_fingerprint(paths) -> list[str]:
    """Content hashes: a file rewritten with the same bytes keeps its hash."""
    return [file_sha256(p)[:16] for p in paths]


def cached_features(key: dict, build: Callable[[], dict], enabled: bool = True) -> Dataset:
    """Return the features for `key`, building them with `build()` (a dict of columns) on a miss."""
    if not enabled:
        return Dataset.from_dict(build())
    digest = hashlib.sha256(json.dumps({**key, "v": FEATURE_VERSION}, sort_keys=True, default=str).encode()).hexdigest()[:24]
    directory = cache_root() / digest
    if (directory / "dataset_info.json").exists():
        return load_from_disk(str(directory))
    dataset = Dataset.from_dict(build())
    tmp = directory.with_name(directory.name + f".tmp{os.getpid()}")
    dataset.save_to_disk(str(tmp))
    try:
        tmp.replace(directory)
    except OSError:  # a concurrent writer (e.g. another grid worker) won the race: its copy is the same
        shutil.rmtree(tmp)
    return load_from_disk(str(directory))


def pad_batch(rows: dict[str, list], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Dynamic padding to the longest sequence in the batch; works for 1-D and [choices, len] rows."""
    pad_values = {"input_ids": pad_token_id, "labels": -100}
    batch = {}
    for key in MODEL_INPUTS:
        if key not in rows:
            continue
        values = rows[key]
        if not isinstance(values[0], list):
            batch[key] = torch.tensor(values)
            continue
        pad = pad_values.get(key, 0)
        if isinstance(values[0][0], list):  # multiple choice: [B, C, L]
            width = max(len(seq) for row in values for seq in row)
            batch[key] = torch.tensor([[seq + [pad] * (width - len(seq)) for seq in row] for row in values])
        else:
            width = max(len(seq) for seq in values)
            batch[key] = torch.tensor([seq + [pad] * (width - len(seq)) for seq in values])
    return batch


def sequence_lengths(dataset: Dataset) -> list[int]:
    """Token length of each feature (max over choices for multiple choice), for length grouping."""
    ids = dataset["input_ids"]
    return [max(map(len, row)) if row and isinstance(row[0], list) else len(row) for row in ids]
