"""Sentence-pair classification: XNLI, PAWS-X (targets); ANLI+, MNLI, QQP (intermediate)."""

from __future__ import annotations

import numpy as np

from ..data import readers as R
from ..data._io import NLI_LABELS
from ..data import writers as W
from ..data.sources import Hub
from ..errors import XstiltsError
from ..evaluation.metrics import accuracy
from ..evaluation.units import PerExample, mean_of
from .base import TaskSpec, sources
from .family import Family


class ClassificationFamily(Family):
    name = head_kind = "classification"

    def featurize(self, examples, tokenizer, max_length, labels, spec=None):
        pairs = [e.text_b for e in examples] if examples and examples[0].text_b is not None else None
        columns = dict(tokenizer([e.text_a for e in examples], pairs, truncation=True, max_length=max_length))
        if examples and examples[0].label is not None:
            index = {label: i for i, label in enumerate(labels)}
            unknown = next((e for e in examples if e.label not in index), None)
            if unknown:
                raise XstiltsError(f"example {unknown.guid}: label {unknown.label!r} not in {list(labels)}")
            columns["labels"] = [index[e.label] for e in examples]
        return columns

    def decode(self, examples, features, logits, labels, spec):
        return [labels[int(np.argmax(row))] for row in logits]

    def score(self, examples, predictions, lang, spec):
        return accuracy(predictions, [e.label for e in examples])

    unit_metrics = {"accuracy": mean_of("correct")}

    def per_example(self, examples, predictions, lang, spec):
        return PerExample([e.guid for e in examples], list(predictions),
                          {"correct": [float(p == e.label) for p, e in zip(predictions, examples)]})


XNLI_LANGS = tuple("ar bg de el en es fr hi ru sw th tr ur vi zh".split())
PAWSX_LANGS = tuple("de en es fr ja ko zh".split())

TASKS = [
    TaskSpec(
        "xnli", "classification", "target", XNLI_LANGS,
        {"train": sources(("xnli/train-en.tsv", R.read_nli_tsv)),
         "dev": sources(("xnli/dev-{lang}.tsv", R.read_nli_tsv)),
         "test": sources(("xnli/test-{lang}.tsv", R.read_nli_tsv))},
        headline=("accuracy",), labels=NLI_LABELS, max_length=256, batch_size=32, epochs=5, learning_rate=2e-5,
        description="Cross-lingual NLI (MultiNLI train in English)"),
    TaskSpec(
        "pawsx", "classification", "target", PAWSX_LANGS,
        {"train": sources(("pawsx/train-en.tsv", R.read_pawsx_tsv)),
         "dev": sources(("pawsx/dev-{lang}.tsv", R.read_pawsx_tsv)),
         "test": sources(("pawsx/test-{lang}.tsv", R.read_pawsx_tsv))},
        headline=("accuracy",), labels=("0", "1"), max_length=256, batch_size=32, epochs=5, learning_rate=2e-5,
        description="Cross-lingual paraphrase adversaries"),
    TaskSpec(
        "anli_plus", "classification", "intermediate", ("en",),
        {"train": sources(*[(f"anli_v1.0/R{r}/train.jsonl", R.read_anli_jsonl) for r in (1, 2, 3)],
                          ("glue/MNLI/train.tsv", R.read_glue_mnli),
                          ("snli_1.0/snli_1.0_train.jsonl", R.read_snli_jsonl)),
         "dev": sources(*[(f"anli_v1.0/R{r}/dev.jsonl", R.read_anli_jsonl) for r in (1, 2, 3)])},
        headline=("accuracy",), labels=NLI_LABELS, head="nli", max_length=256, batch_size=32, epochs=2,
        learning_rate=1e-5, description="ANLI R1-R3 + MNLI + SNLI, one NLI head"),
    TaskSpec(
        "mnli", "classification", "intermediate", ("en",),
        {"train": sources(("glue/MNLI/train.tsv", R.read_glue_mnli)),
         "dev": sources(("glue/MNLI/dev_matched.tsv", R.read_glue_mnli))},
        headline=("accuracy",), labels=NLI_LABELS, head="nli", max_length=256, batch_size=32, epochs=2,
        learning_rate=1e-5, description="MultiNLI (GLUE)"),
    TaskSpec(
        "qqp", "classification", "intermediate", ("en",),
        {"train": sources(("glue/QQP/train.tsv", R.read_glue_qqp)),
         "dev": sources(("glue/QQP/dev.tsv", R.read_glue_qqp))},
        headline=("accuracy",), labels=("0", "1"), max_length=256, batch_size=32, epochs=2, learning_rate=1e-5,
        description="Quora Question Pairs (GLUE)"),
]

MNLI_TRAIN = Hub("nyu-mll/glue", "mnli", {"train": "glue/MNLI/train.tsv"}, W.glue_mnli_tsv)

# Where `xstilts data fetch` gets each task's files (XTREME's language lists, labelled test sets).
DOWNLOADS = {
    "xnli": (Hub("nyu-mll/glue", "mnli", {"train": "xnli/train-en.tsv"}, W.nli_tsv),  # XNLI trains on MNLI
             Hub("google/xtreme", "XNLI", {"validation": "xnli/dev-{lang}.tsv", "test": "xnli/test-{lang}.tsv"},
                 W.xtreme_xnli_tsv, XNLI_LANGS)),
    "pawsx": (Hub("google/xtreme", "PAWS-X.en", {"train": "pawsx/train-en.tsv"}, W.pawsx_tsv),
              Hub("google/xtreme", "PAWS-X.{lang}", {"validation": "pawsx/dev-{lang}.tsv", "test": "pawsx/test-{lang}.tsv"},
                  W.pawsx_tsv, PAWSX_LANGS)),
    # ANLI+ as the paper built it: ANLI R1-R3 + MNLI + SNLI training data, ANLI dev sets
    "anli_plus": (Hub("facebook/anli", "plain_text",
                      {f"{split}_r{r}": f"anli_v1.0/R{r}/{split}.jsonl" for r in (1, 2, 3) for split in ("train", "dev")},
                      W.anli_jsonl),
                  MNLI_TRAIN,
                  Hub("stanfordnlp/snli", "plain_text", {"train": "snli_1.0/snli_1.0_train.jsonl"}, W.snli_jsonl)),
    "mnli": (MNLI_TRAIN, Hub("nyu-mll/glue", "mnli", {"validation_matched": "glue/MNLI/dev_matched.tsv"}, W.glue_mnli_tsv)),
    "qqp": (Hub("nyu-mll/glue", "qqp", {"train": "glue/QQP/train.tsv", "validation": "glue/QQP/dev.tsv"}, W.glue_qqp_tsv),),
}
