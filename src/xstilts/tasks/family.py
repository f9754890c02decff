"""The interface every task family implements: featurise examples, decode logits, score."""

from __future__ import annotations

import numpy as np


class Family:
    name: str
    head_kind: str

    def label_list(self, spec, train_examples) -> list[str] | None:
        """Labels of the head: fixed by the task, else collected from the training data."""
        return list(spec.labels) if spec.labels else None

    def num_labels(self, labels, features) -> int:
        return len(labels)

    def featurize_options(self, config) -> dict:
        """Featurizer keyword arguments taken from the experiment config (they change features,
        so they go into the feature-cache and cell keys)."""
        return {}

    def featurize(self, examples, tokenizer, max_length: int, labels) -> dict[str, list]:
        raise NotImplementedError

    def decode(self, examples, features, logits: list[np.ndarray], labels, spec):
        """Turn per-feature logits into per-example predictions in the metric's input format."""
        raise NotImplementedError

    def score(self, examples, predictions, lang: str, spec) -> dict[str, float]:
        raise NotImplementedError
