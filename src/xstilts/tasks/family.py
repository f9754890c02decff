"""The interface every task family implements: featurise examples, decode logits, score."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..errors import XstiltsError


class Option(NamedTuple):
    """A setting a config may give a task of the family (`task_options`)."""

    default: object
    doc: str
    choices: tuple | None = None  # None: any value


class Family:
    name: str
    head_kind: str | None
    trains = True  # fine-tuned with a head; False: scored on the encoder's embeddings (retrieval)
    options: dict[str, Option] = {}

    def option(self, spec, name: str):
        """The task's value of an option (its default without a spec); a value outside its choices is a user error."""
        declared = self.options[name]
        value = spec.options.get(name, declared.default) if spec else declared.default
        if declared.choices and value not in declared.choices:
            raise XstiltsError(f"task_options.{spec.name}.{name}: unknown choice {value!r}; "
                               f"valid choices: {', '.join(declared.choices)}")
        return value

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
