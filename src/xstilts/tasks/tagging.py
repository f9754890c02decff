"""Token tagging: UD POS and PAN-X NER (targets), CCG supertagging (intermediate).

Sentences longer than the model's window are split into word-aligned chunks and merged back
after prediction, so no word goes unlabelled. Labels sit on each word's first sub-token.
"""

from __future__ import annotations

import numpy as np

from ..data import readers as R
from ..data import writers as W
from ..data.sources import Hub, Manual
from ..errors import XstiltsError
from ..evaluation.metrics import seqeval_scores
from .base import TaskSpec, sources
from .family import Family

UPOS_TAGS = tuple("ADJ ADP ADV AUX CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ SYM VERB X".split())
PANX_TAGS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")


class TaggingFamily(Family):
    name = head_kind = "tagging"

    def label_list(self, spec, train_examples):
        if spec.labels:
            return list(spec.labels)
        return sorted({tag for e in train_examples for tag in e.tags})

    def _chunks(self, tokens, piece_counts, budget):
        """Split word indices into consecutive chunks whose sub-tokens fit in `budget`."""
        chunks, current, used = [], [], 0
        for i, count in enumerate(piece_counts):
            count = min(max(count, 1), budget)  # a single over-long word is truncated inside its chunk
            if current and used + count > budget:
                chunks.append(current)
                current, used = [], 0
            current.append(i)
            used += count
        return chunks + ([current] if current else [])

    def featurize(self, examples, tokenizer, max_length, labels, spec=None):
        index = {label: i for i, label in enumerate(labels or [])}
        budget = max_length - tokenizer.num_special_tokens_to_add(pair=False)
        all_words = [w for e in examples for w in e.tokens]
        piece_counts = iter(len(ids) for ids in tokenizer(all_words, add_special_tokens=False)["input_ids"])
        columns = {"example_index": [], "word_offset": [], "words": []}
        chunk_words = []
        for example_index, example in enumerate(examples):
            counts = [next(piece_counts) for _ in example.tokens]
            for chunk in self._chunks(example.tokens, counts, budget):
                columns["example_index"].append(example_index)
                columns["word_offset"].append(chunk[0])
                columns["words"].append(len(chunk))
                chunk_words.append([example.tokens[i] for i in chunk])
        enc = tokenizer(chunk_words, is_split_into_words=True, truncation=True, max_length=max_length)
        columns.update({k: list(v) for k, v in enc.items()})
        has_tags = bool(examples) and examples[0].tags is not None
        columns["first_subtoken"], label_rows = [], []
        for f, (example_index, offset) in enumerate(zip(columns["example_index"], columns["word_offset"])):
            word_ids, seen, firsts, row = enc.word_ids(f), set(), [], []
            for position, word in enumerate(word_ids):
                first = word is not None and word not in seen
                seen.add(word)
                firsts.append(word if first else -1)
                if has_tags:
                    tag = examples[example_index].tags[offset + word] if first else None
                    row.append(index[tag] if first else -100)
            columns["first_subtoken"].append(firsts)
            label_rows.append(row)
        if has_tags:
            unknown = {t for e in examples for t in e.tags if t not in index}
            if unknown:
                raise XstiltsError(f"tags not in the label set: {sorted(unknown)[:10]}")
            columns["labels"] = label_rows
        return columns

    def decode(self, examples, features, logits, labels, spec):
        predictions = [["O" if "O" in labels else labels[0]] * len(e.tokens) for e in examples]
        meta = features.select_columns(["example_index", "word_offset", "first_subtoken"])
        for feature, token_logits in zip(meta, logits):
            tags = predictions[feature["example_index"]]
            for position, word in enumerate(feature["first_subtoken"]):
                if word >= 0:
                    tags[feature["word_offset"] + word] = labels[int(np.argmax(token_logits[position]))]
        return predictions

    def score(self, examples, predictions, lang, spec):
        return seqeval_scores([e.tags for e in examples], predictions)


# google/xtreme names its UD POS configs by language name.
UDPOS_NAMES = {
    "af": "Afrikaans", "ar": "Arabic", "bg": "Bulgarian", "de": "German", "el": "Greek", "en": "English",
    "es": "Spanish", "et": "Estonian", "eu": "Basque", "fa": "Persian", "fi": "Finnish", "fr": "French",
    "he": "Hebrew", "hi": "Hindi", "hu": "Hungarian", "id": "Indonesian", "it": "Italian", "ja": "Japanese",
    "kk": "Kazakh", "ko": "Korean", "mr": "Marathi", "nl": "Dutch", "pt": "Portuguese", "ru": "Russian",
    "ta": "Tamil", "te": "Telugu", "th": "Thai", "tl": "Tagalog", "tr": "Turkish", "ur": "Urdu",
    "vi": "Vietnamese", "yo": "Yoruba", "zh": "Chinese",
}
PANX_LANGS = tuple("af ar bg bn de el en es et eu fa fi fr he hi hu id it ja jv ka kk ko ml mr ms my nl pt ru sw ta te "
                   "th tl tr ur vi yo zh".split())


def xtreme_layout(task: str, reader) -> dict:
    """XTREME's processed `{task}/{split}-{lang}.tsv` (its download script writes these)."""
    return {"xtreme": {"train": sources((f"{task}/train-en.tsv", reader)), "dev": sources((f"{task}/dev-en.tsv", reader)),
                       "test": sources((f"{task}/test-{{lang}}.tsv", reader))}}


TASKS = [
    TaskSpec("udpos", "tagging", "target", tuple(UDPOS_NAMES),
             # every treebank of the language, as XTREME concatenates them (official UD layout)
             {"train": sources(("ud/*/en_*-ud-train.conllu", R.read_conllu)),
              "dev": sources(("ud/*/en_*-ud-dev.conllu", R.read_conllu)),
              "test": sources(("ud/*/{lang}_*-ud-test.conllu", R.read_conllu))},
             headline=("f1",), labels=UPOS_TAGS, max_length=256, batch_size=32, epochs=10, learning_rate=2e-5,
             layouts=xtreme_layout("udpos", R.read_udpos_tsv),
             description="Universal Dependencies part-of-speech tagging (UPOS)"),
    TaskSpec("panx", "tagging", "target", PANX_LANGS,
             {"train": sources(("panx/en/train", R.read_panx)),
              "dev": sources(("panx/en/dev", R.read_panx)),
              "test": sources(("panx/{lang}/test", R.read_panx))},
             headline=("f1",), labels=PANX_TAGS, max_length=256, batch_size=32, epochs=10, learning_rate=2e-5,
             layouts=xtreme_layout("panx", R.read_panx),
             description="WikiANN named entities (Rahimi et al. splits)"),
    TaskSpec("ccg", "tagging", "intermediate", ("en",),
             {"train": sources(("ccg/ccg.train.tsv", R.read_ccg)), "dev": sources(("ccg/ccg.dev.tsv", R.read_ccg))},
             headline=("accuracy",), label_file="ccg/tags.txt", max_length=256, batch_size=32, epochs=2,
             learning_rate=1e-5, description="CCG supertagging from user files (text<TAB>tags)"),
]

UD = "ud/UD_{name}-XTREME/{lang}_xtreme-ud-{split}.conllu"
CCG_MESSAGE = (
    "CCGbank is licensed by the LDC (LDC2005T13, https://catalog.ldc.upenn.edu/LDC2005T13) and cannot be "
    "downloaded. Place by hand, under the data dir: ccg/ccg.train.tsv (sections 02-21) and ccg/ccg.dev.tsv "
    "(section 00), one sentence per line as `space-separated tokens<TAB>space-separated supertags`, and "
    "ccg/tags.txt with one supertag per line (the head's label set).")

# UD POS and PAN-X: XTREME's treebanks/splits as google/xtreme holds them (some languages are test-only).
DOWNLOADS = {
    "udpos": (Hub("google/xtreme", "udpos.{name}", {"train": UD.replace("{split}", "train"),
                                                    "validation": UD.replace("{split}", "dev")},
                  W.conllu, names=UDPOS_NAMES),
              Hub("google/xtreme", "udpos.{name}", {"test": UD.replace("{split}", "test")}, W.conllu,
                  tuple(UDPOS_NAMES), names=UDPOS_NAMES)),
    "panx": (Hub("google/xtreme", "PAN-X.en", {"train": "panx/en/train", "validation": "panx/en/dev"}, W.panx),
             Hub("google/xtreme", "PAN-X.{lang}", {"test": "panx/{lang}/test"}, W.panx, PANX_LANGS)),
    "ccg": (Manual(CCG_MESSAGE),),
}
