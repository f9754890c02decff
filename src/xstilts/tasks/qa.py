"""Extractive QA: SQuAD v1.1/v2.0 (intermediate); XQuAD, MLQA, TyDiQA-GoldP (targets).

Answers are cut from the original context by character offsets, so scripts written
without spaces (zh, th, ja) come back exactly as the annotators marked them.
"""

from __future__ import annotations

import numpy as np

from ..data import readers as R
from ..data._io import LABELS_MISSING
from ..data import writers as W
from ..data.sources import Hub
from ..errors import XstiltsError
from ..evaluation.metrics import squad_em_f1, squad_per_question, squad_v2_scores
from ..evaluation.units import PerExample, mean_of
from .base import TaskSpec, sources
from .family import Family, Option


class SpanQAFamily(Family):
    name = head_kind = "span_qa"
    options = {  # as HF's run_qa.py exposes them, with its defaults
        "doc_stride": Option(128, "tokens shared by consecutive windows of a long context (at most a third of the window)"),
        "n_best": Option(20, "start and end candidates considered per window when decoding a span"),
        "max_answer_tokens": Option(30, "longest answer span decoded, in tokens"),
        "max_question_tokens": Option(None, "questions cut to this many tokens (XTREME and BERT's max_query_length: 64); "
                                            "None keeps them whole"),
    }

    def num_labels(self, labels, features) -> int:
        return 2  # start and end

    def featurize(self, examples, tokenizer, max_length, labels, spec=None):
        stride = min(self.option(spec, "doc_stride"), max_length // 3)
        questions = self._questions(examples, tokenizer, self.option(spec, "max_question_tokens"))
        self._check_room(examples, questions, tokenizer, max_length, stride, spec.name if spec else "qa")
        enc = tokenizer(questions, [e.context for e in examples], truncation="only_second", max_length=max_length,
                        stride=stride, return_overflowing_tokens=True, return_offsets_mapping=True)
        sample_map = enc.pop("overflow_to_sample_mapping")
        offsets = enc.pop("offset_mapping")
        columns = {k: list(v) for k, v in enc.items()}
        columns.update(example_index=[], context_offsets=[], start_positions=[], end_positions=[])
        for i, example_index in enumerate(sample_map):
            sequence_ids = enc.sequence_ids(i)
            # Keep offsets of context tokens only; [-1, -1] marks question and special tokens.
            spans = [list(o) if sid == 1 else [-1, -1] for o, sid in zip(offsets[i], sequence_ids)]
            columns["example_index"].append(example_index)
            columns["context_offsets"].append(spans)
            start, end = self._token_positions(examples[example_index], spans)
            columns["start_positions"].append(start)
            columns["end_positions"].append(end)
        return columns

    @staticmethod
    def _check_room(examples, questions, tokenizer, max_length, stride, name):
        """Every window must keep more context tokens than the stride: the tokenizer otherwise panics (Rust)
        without naming the question."""
        if not questions:
            return
        lengths = [len(ids) for ids in tokenizer(questions, add_special_tokens=False)["input_ids"]]
        longest = max(range(len(questions)), key=lengths.__getitem__)
        room = max_length - lengths[longest] - tokenizer.num_special_tokens_to_add(pair=True)
        if room <= stride:
            raise XstiltsError(f"{name}: question {examples[longest].guid!r} is {lengths[longest]} tokens, leaving a "
                               f"{max_length}-token window {max(room, 0)} context tokens, not more than doc_stride "
                               f"{stride}: raise max_length or set task_options.{name}.max_question_tokens (XTREME: 64)")

    @staticmethod
    def _questions(examples, tokenizer, limit):
        """Question texts, each cut after its `limit`-th token (by character offset) when a limit is set."""
        questions = [e.question.lstrip() for e in examples]
        if not limit:
            return questions
        offsets = tokenizer(questions, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        return [q[:spans[limit - 1][1]] if len(spans) > limit else q for q, spans in zip(questions, offsets)]

    @staticmethod
    def _token_positions(example, spans):
        """Token span of the first gold answer, or (0, 0) (the CLS token) when it is not inside."""
        if example.is_impossible or not example.answers:
            return 0, 0
        start_char = example.answers[0]["answer_start"]
        end_char = start_char + len(example.answers[0]["text"])
        in_context = [i for i, (s, e) in enumerate(spans) if s >= 0]
        if not in_context or spans[in_context[0]][0] > start_char or spans[in_context[-1]][1] < end_char:
            return 0, 0
        start = next(i for i in in_context if spans[i][1] > start_char)
        end = next(i for i in reversed(in_context) if spans[i][0] < end_char)
        return start, end

    def decode(self, examples, features, logits, labels, spec):
        """Best span over all windows of each example (n-best starts x ends, as the official scripts)."""
        n_best, max_tokens = self.option(spec, "n_best"), self.option(spec, "max_answer_tokens")
        best = {i: (-np.inf, "") for i in range(len(examples))}
        null = {i: np.inf for i in range(len(examples))}
        for feature, window_logits in zip(features.select_columns(["example_index", "context_offsets"]), logits):
            i, spans = feature["example_index"], feature["context_offsets"]
            start_logits, end_logits = window_logits[:, 0], window_logits[:, 1]
            null[i] = min(null[i], start_logits[0] + end_logits[0])
            context = examples[i].context
            for s in np.argsort(start_logits)[::-1][:n_best]:
                for e in np.argsort(end_logits)[::-1][:n_best]:
                    if spans[s][0] < 0 or spans[e][0] < 0 or e < s or e - s + 1 > max_tokens:
                        continue
                    score = start_logits[s] + end_logits[e]
                    if score > best[i][0]:
                        best[i] = (score, context[spans[s][0]:spans[e][1]])
        answers = {examples[i].guid: text for i, (_, text) in best.items()}
        if spec.options.get("version_2"):
            # no-answer score: how much the null span beats the best span (thresholded at scoring)
            na_scores = {examples[i].guid: float(null[i] - best[i][0]) for i in best}
            return {"answers": answers, "na_scores": na_scores}
        return answers

    def score(self, examples, predictions, lang, spec):
        references = {e.guid: [a["text"] for a in e.answers] for e in examples}
        if not spec.options.get("version_2") and not any(references.values()):
            raise XstiltsError(f"{spec.name} {lang}: {LABELS_MISSING}")  # never score a stripped file as 0
        if spec.options.get("version_2"):
            return squad_v2_scores(predictions["answers"], references, predictions["na_scores"])
        return squad_em_f1(predictions, references, lang=lang, mlqa=spec.options.get("mlqa", False))

    unit_metrics = {"exact_match": mean_of("exact_match"), "f1": mean_of("f1")}

    def per_example(self, examples, predictions, lang, spec):
        if spec.options.get("version_2"):
            return None  # the no-answer threshold is searched over the whole set: no per-question decomposition
        references = {e.guid: [a["text"] for a in e.answers] for e in examples}
        units = squad_per_question(predictions, references, lang=lang, mlqa=spec.options.get("mlqa", False))
        return PerExample(list(references), [predictions.get(guid, "") for guid in references], units)


QA_DEFAULTS = dict(headline=("exact_match", "f1"), max_length=384, batch_size=32, learning_rate=3e-5)
SQUAD_TRAIN = ("squad/train-v1.1.json", R.read_squad_json)
SQUAD_DEV = ("squad/dev-v1.1.json", R.read_squad_json)

XQUAD_LANGS = tuple("ar de el en es hi ru th tr vi zh".split())
MLQA_LANGS = tuple("ar de en es hi vi zh".split())
TYDIQA_LANGS = tuple("ar bn en fi id ko ru sw te".split())

TASKS = [
    TaskSpec("squad_v1", "span_qa", "intermediate", ("en",),
             {"train": sources(SQUAD_TRAIN), "dev": sources(SQUAD_DEV)},
             epochs=2, description="SQuAD v1.1", **QA_DEFAULTS),
    TaskSpec("squad_v2", "span_qa", "intermediate", ("en",),
             {"train": sources(("squad/train-v2.0.json", R.read_squad_json)),
              "dev": sources(("squad/dev-v2.0.json", R.read_squad_json))},
             epochs=2, options={"version_2": True},
             description="SQuAD v2.0 with unanswerable questions (no-answer threshold searched on dev)",
             **{**QA_DEFAULTS, "headline": ("exact", "f1")}),  # the official v2 script's key names
    TaskSpec("xquad", "span_qa", "target", XQUAD_LANGS,
             {"train": sources(SQUAD_TRAIN), "dev": sources(SQUAD_DEV),
              "test": sources(("xquad/xquad.{lang}.json", R.read_squad_json))},
             epochs=2, description="XQuAD: 240 SQuAD dev paragraphs in 11 languages", **QA_DEFAULTS),
    TaskSpec("mlqa", "span_qa", "target", MLQA_LANGS,
             {"train": sources(SQUAD_TRAIN), "dev": sources(SQUAD_DEV),
              "test": sources(("mlqa/MLQA_V1/test/test-context-{lang}-question-{lang}.json", R.read_squad_json))},
             epochs=2, options={"mlqa": True},
             description="MLQA, scored with its per-language normalisation", **QA_DEFAULTS),
    TaskSpec("tydiqa", "span_qa", "target", TYDIQA_LANGS,
             {"train": sources(("tydiqa/tydiqa-goldp-v1.1-train/tydiqa.en.train.json", R.read_squad_json)),
              "dev": sources(("tydiqa/tydiqa-goldp-v1.1-dev/tydiqa.en.dev.json", R.read_squad_json)),
              "test": sources(("tydiqa/tydiqa-goldp-v1.1-dev/tydiqa.{lang}.dev.json", R.read_squad_json))},
             epochs=3, description="TyDiQA-GoldP (English train, gold passage)", **QA_DEFAULTS),
]

SQUAD = Hub("rajpurkar/squad", "plain_text", {"train": SQUAD_TRAIN[0], "validation": SQUAD_DEV[0]}, W.squad_json)
TYDIQA = "tydiqa/tydiqa-goldp-v1.1-{split}/tydiqa.{{lang}}.{split}.json"

DOWNLOADS = {
    "squad_v1": (SQUAD,),
    "squad_v2": (Hub("rajpurkar/squad_v2", "squad_v2",
                     {"train": "squad/train-v2.0.json", "validation": "squad/dev-v2.0.json"}, W.squad_json),),
    "xquad": (SQUAD, Hub("google/xtreme", "XQuAD.{lang}", {"validation": "xquad/xquad.{lang}.json"}, W.squad_json,
                         XQUAD_LANGS)),
    "mlqa": (SQUAD, Hub("google/xtreme", "MLQA.{lang}.{lang}",
                        {"test": "mlqa/MLQA_V1/test/test-context-{lang}-question-{lang}.json"}, W.squad_json, MLQA_LANGS)),
    # TyDiQA-GoldP: English train, every language's dev set as its test set (as XTREME)
    "tydiqa": (Hub("google/xtreme", "tydiqa", {"train": TYDIQA.format(split="train")}, W.tydiqa_json),
               Hub("google/xtreme", "tydiqa", {"validation": TYDIQA.format(split="dev")}, W.tydiqa_json, TYDIQA_LANGS)),
}
