"""The interface every task family implements: featurise examples, decode logits, score."""

from __future__ import annotations

import numpy as np


class Family:
    name: str
    head_kind: str | None
    trains = True  # fine-tuned with a head; False: scored on the encoder's embeddings (retrieval)
    # options a config may set per task (`task_options`): name -> (default, what it does)
    options: dict[str, tuple[object, str]] = {}

    def option(self, spec, name: str):
        return spec.options.get(name, self.options[name][0])

    def label_list(self, spec, train_examples) -> list[str] | None:
        """Labels of the head: fixed by the task, else collected from the training data."""
        return list(spec.labels) if spec.labels else None

    def num_labels(self, labels, features) -> int:
        return len(labels)

    def featurize(self, examples, tokenizer, max_length: int, labels, spec=None) -> dict[str, list]:
        raise NotImplementedError

    def decode(self, examples, features, logits: list[np.ndarray], labels, spec):
        """Turn per-feature logits into per-example predictions in the metric's input format."""
        raise NotImplementedError

    def score(self, examples, predictions, lang: str, spec) -> dict[str, float]:
        raise NotImplementedError

    # metric -> how it is recomputed from a sample of per-example units (evaluation.units); empty: the
    # metric does not decompose over examples
    unit_metrics: dict = {}

    def per_example(self, examples, predictions, lang: str, spec):
        """Each example's id, prediction and units (evaluation.units.PerExample); None where
        `unit_metrics` is empty."""
        return None
