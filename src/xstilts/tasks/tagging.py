"""Token tagging: UD POS and PAN-X NER (targets), CCG supertagging (intermediate).

Sentences longer than the model's window are split into word-aligned chunks and merged back
after prediction, so no word goes unlabelled. Labels sit on each word's first sub-token (XTREME)
or, with the task option label_subtoken: first_with_characters, on its first sub-token that carries characters.
"""

from __future__ import annotations

import functools

import numpy as np

from ..data import readers as R
from ..data import writers as W
from ..data.sources import Hub, Manual
from ..errors import XstiltsError
from ..evaluation.metrics import seqeval_scores, seqeval_sentence_counts
from ..evaluation.units import PerExample, span_f1
from .base import TaskSpec, sources
from .family import Family, Option

UPOS_TAGS = tuple("ADJ ADP ADV AUX CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ SYM VERB X".split())
PANX_TAGS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")




def _carries_characters(tokenizer):
    """token id -> whether it decodes to any character (a bare word-start marker such as "▁" does not)."""
    return functools.lru_cache(maxsize=None)(lambda token_id: bool(tokenizer.decode([token_id]).strip()))


class TaggingFamily(Family):
    name = head_kind = "tagging"
    options = {"label_subtoken": Option("first_subtoken", "which sub-token of a word carries its tag: first_subtoken "
                                        "(XTREME's) or first_with_characters (skips the bare '▁' XLM-R puts before ja/zh words)",
                                        ("first_subtoken", "first_with_characters"))}

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
        """Features of word-aligned chunks; each word's tag sits on one sub-token: its first
        ("first_subtoken", XTREME) or its first that decodes to characters of the word
        ("first_with_characters": skips the bare "▁" XLM-R puts before every ja/zh word)."""
        label_subtoken = self.option(spec, "label_subtoken")
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
        unknown = {t for e in examples for t in e.tags if t not in index} if has_tags else set()
        if unknown:
            raise XstiltsError(f"tags not in the label set: {sorted(unknown)[:10]}")
        carries = _carries_characters(tokenizer) if label_subtoken == "first_with_characters" else lambda _: True
        # The labelled position keeps the column name "first_subtoken" (decode reads it).
        columns["first_subtoken"], label_rows = [], []
        for f, (example_index, offset) in enumerate(zip(columns["example_index"], columns["word_offset"])):
            word_ids, ids = enc.word_ids(f), enc["input_ids"][f]
            chosen = {}  # word -> labelled position: its first sub-token carrying characters, else its first
            for position, word in enumerate(word_ids):
                if word is not None and (word not in chosen or (not carries(ids[chosen[word]]) and carries(ids[position]))):
                    chosen[word] = position
            labelled = {position: word for word, position in chosen.items()}
            firsts = [labelled.get(position, -1) for position in range(len(word_ids))]
            columns["first_subtoken"].append(firsts)
            if has_tags:
                tags = examples[example_index].tags
                label_rows.append([index[tags[offset + word]] if word >= 0 else -100 for word in firsts])
        if has_tags:
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

    unit_metrics = {"f1": span_f1}

    def per_example(self, examples, predictions, lang, spec):
        return PerExample([e.guid for e in examples], [list(p) for p in predictions],
                          seqeval_sentence_counts([e.tags for e in examples], predictions))


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
