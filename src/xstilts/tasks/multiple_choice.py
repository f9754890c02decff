"""Multiple choice (intermediate only): HellaSwag, CosmosQA, CommonsenseQA."""

from __future__ import annotations

import numpy as np

from ..data import readers as R
from ..data import writers as W
from ..data.sources import Hub
from ..evaluation.metrics import accuracy
from .base import TaskSpec, sources
from .family import Family


class MultipleChoiceFamily(Family):
    name = head_kind = "multiple_choice"

    def num_labels(self, labels, features) -> int:
        return len(features[0]["input_ids"])  # choices per example: the head reshapes to [batch, choices]

    def featurize(self, examples, tokenizer, max_length, labels, spec=None):
        firsts = [e.context for e in examples for _ in e.choices]
        seconds = [f"{e.question} {choice}".strip() for e in examples for choice in e.choices]
        flat = tokenizer(firsts, seconds, truncation="longest_first", max_length=max_length)
        columns: dict[str, list] = {}
        for key, values in flat.items():  # regroup into [example][choice][token]
            rows, i = [], 0
            for e in examples:
                rows.append(values[i:i + len(e.choices)])
                i += len(e.choices)
            columns[key] = rows
        if examples and examples[0].label is not None:
            columns["labels"] = [e.label for e in examples]
        return columns

    def decode(self, examples, features, logits, labels, spec):
        return [int(np.argmax(row)) for row in logits]

    def score(self, examples, predictions, lang, spec):
        return accuracy(predictions, [e.label for e in examples])


TASKS = [
    TaskSpec(
        "hellaswag", "multiple_choice", "intermediate", ("en",),
        {"train": sources(("hellaswag/hellaswag_train.jsonl", R.read_hellaswag)),
         "dev": sources(("hellaswag/hellaswag_val.jsonl", R.read_hellaswag))},
        headline=("accuracy",), max_length=256, batch_size=16, epochs=2, learning_rate=1e-5,
        description="Commonsense sentence completion, 4 endings"),
    TaskSpec(
        "cosmosqa", "multiple_choice", "intermediate", ("en",),
        {"train": sources(("cosmosqa/train.csv", R.read_cosmosqa)),
         "dev": sources(("cosmosqa/valid.csv", R.read_cosmosqa))},
        headline=("accuracy",), max_length=256, batch_size=16, epochs=2, learning_rate=1e-5,
        description="Commonsense reading comprehension, 4 answers"),
    TaskSpec(
        "commonsenseqa", "multiple_choice", "intermediate", ("en",),
        {"train": sources(("commonsenseqa/train_rand_split.jsonl", R.read_commonsenseqa)),
         "dev": sources(("commonsenseqa/dev_rand_split.jsonl", R.read_commonsenseqa))},
        headline=("accuracy",), max_length=256, batch_size=16, epochs=2, learning_rate=1e-5,
        description="ConceptNet-based questions, 5 answers"),
]

# HellaSwag and CosmosQA are loading-script repos: their Parquet conversion branch holds the data.
DOWNLOADS = {
    "hellaswag": (Hub("Rowan/hellaswag", None, {"train": "hellaswag/hellaswag_train.jsonl",
                                                "validation": "hellaswag/hellaswag_val.jsonl"},
                      W.hellaswag_jsonl, revision="refs/convert/parquet"),),
    "cosmosqa": (Hub("allenai/cosmos_qa", None, {"train": "cosmosqa/train.csv", "validation": "cosmosqa/valid.csv"},
                     W.cosmosqa_csv, revision="refs/convert/parquet"),),
    "commonsenseqa": (Hub("tau/commonsense_qa", None, {"train": "commonsenseqa/train_rand_split.jsonl",
                                                       "validation": "commonsenseqa/dev_rand_split.jsonl"},
                          W.commonsenseqa_jsonl),),
}
