"""Task metrics that reproduce the official XTREME scorers.

* SQuAD v1.1 EM/F1 (XQuAD, TyDiQA-GoldP) and SQuAD 2.0 with its no-answer
  threshold search.
* MLQA EM/F1 with the per-language normalisation of ``mlqa_evaluation_v1.py``.
* Classification accuracy and seqeval span F1 (UD-POS, PAN-X), as XTREME's
  ``run_tag.py`` reports them.

Every score is on a 0-100 scale.
"""

from __future__ import annotations

import re
import string
import unicodedata
import warnings
from collections import Counter

__all__ = [
    "normalize_answer",
    "squad_em_f1",
    "squad_per_question",
    "seqeval_sentence_counts",
    "squad_v2_scores",
    "accuracy",
    "seqeval_scores",
]

_ASCII_PUNCT = frozenset(string.punctuation)

# Article patterns of mlqa_evaluation_v1.py. Spanish is the official list, which
# has no "lo". Arabic keeps MLQA's regex: its first branch never matches, so the
# effect is to replace every "ال", even inside a word, with a space.
_MLQA_ARTICLES: dict[str, str | None] = {
    "en": r"\b(a|an|the)\b",
    "es": r"\b(un|una|unos|unas|el|la|los|las)\b",
    "de": r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b",
    "ar": r"\sال^|ال",
    "vi": r"\b(của|là|cái|chiếc|những)\b",
    "hi": None,
    "zh": None,
}
_NA_PROB_THRESH = 1.0  # SQuAD 2.0 script's default --na-prob-thresh
_CJK = re.compile(r"[\u4e00-\u9fa5]")  # the range MLQA's mixed segmentation uses


def _is_mlqa_punct(ch: str) -> bool:
    # MLQA's set: ASCII punctuation plus every Unicode "P*" character. Checking the
    # category per character avoids building a set over all code points at import.
    return ch in _ASCII_PUNCT or unicodedata.category(ch).startswith("P")


def _mixed_segmentation(text: str) -> list[str]:
    """MLQA's zh tokeniser: each CJK char or punctuation mark is a token; runs of
    other characters are whitespace-split."""
    tokens: list[str] = []
    run = ""
    for ch in text:
        if _CJK.match(ch) or _is_mlqa_punct(ch):
            tokens.extend(run.split())
            run = ""
            tokens.append(ch)
        else:
            run += ch
    tokens.extend(run.split())
    return tokens


def normalize_answer(s: str, lang: str = "en", mlqa: bool = False) -> str:
    """Normalise an answer string the way the official scorer does.

    ``mlqa=False``: SQuAD v1.1/2.0 (lower, drop ASCII punctuation, drop a/an/the,
    collapse whitespace); ``lang`` is ignored. ``mlqa=True``: MLQA, where ``lang``
    (en, es, de, ar, vi, hi, zh) picks the article list and, for zh, the mixed
    segmentation. Tokens are joined by single spaces, so ``.split()`` gives them back.
    """
    text = s.lower()
    if not mlqa:
        text = "".join(ch for ch in text if ch not in _ASCII_PUNCT)
        text = re.sub(r"\b(a|an|the)\b", " ", text)
        return " ".join(text.split())

    if lang not in _MLQA_ARTICLES:
        raise ValueError(f"MLQA has no normalisation for language {lang!r}; "
                         f"expected one of {sorted(_MLQA_ARTICLES)}")
    text = "".join(ch for ch in text if not _is_mlqa_punct(ch))
    pattern = _MLQA_ARTICLES[lang]
    if pattern is not None:
        text = re.sub(pattern, " ", text)
    tokens = _mixed_segmentation(text) if lang == "zh" else text.split()
    return " ".join(t for t in tokens if t.strip())


def _f1_v1(pred_tokens: list[str], gold_tokens: list[str]) -> float:
    # SQuAD v1.1 / MLQA: no overlap (including both empty) scores 0.
    common = Counter(pred_tokens) & Counter(gold_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(pred_tokens)
    recall = num_same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def squad_per_question(
    predictions: dict[str, str],
    references: dict[str, list[str]],
    lang: str = "en",
    mlqa: bool = False,
) -> dict[str, list[float]]:
    """SQuAD v1.1 EM and F1 (0/1 and 0..1) of each question of ``references``, in its order
    (``mlqa=True``: MLQA's per-language variant). A question with no prediction scores 0;
    each question takes its best score over the gold answers."""
    if not references:
        raise ValueError("no reference questions to score")

    def norm(text: str) -> str:
        return normalize_answer(text, lang, mlqa=mlqa)

    em, f1 = [], []
    for qid, golds in references.items():
        if qid not in predictions:
            em.append(0.0)
            f1.append(0.0)
            continue
        if not golds:
            raise ValueError(f"question {qid!r} has no gold answer (use squad_v2_scores)")
        pred = norm(predictions[qid])
        golds_n = [norm(g) for g in golds]
        em.append(max(float(pred == g) for g in golds_n))
        f1.append(max(_f1_v1(pred.split(), g.split()) for g in golds_n))
    return {"exact_match": em, "f1": f1}


def squad_em_f1(
    predictions: dict[str, str],
    references: dict[str, list[str]],
    lang: str = "en",
    mlqa: bool = False,
) -> dict:
    """SQuAD v1.1 EM/F1 (``mlqa=True``: MLQA's per-language variant), averaged over the
    questions of ``references`` (see ``squad_per_question``)."""
    per_question = squad_per_question(predictions, references, lang, mlqa)
    return {metric: 100.0 * sum(values) / len(values) for metric, values in per_question.items()}


def _f1_v2(pred: str, gold: str) -> float:
    # SQuAD 2.0: if either side normalises to nothing, F1 is 1 only when both do.
    pred_toks, gold_toks = normalize_answer(pred).split(), normalize_answer(gold).split()
    if not pred_toks or not gold_toks:
        return float(pred_toks == gold_toks)
    return _f1_v1(pred_toks, gold_toks)


def _best_thresh(preds, scores, na_probs, has_ans, n_total) -> tuple[float, float]:
    """Official ``find_best_thresh``: start from "predict no-answer everywhere", walk
    questions by increasing no-answer probability and switch each to its span
    prediction, keeping the best running score."""
    # Official counts every no-answer question here; a question without a
    # prediction is never right, so we count only the answered ones.
    cur = best = sum(1 for q in scores if not has_ans[q])
    best_thresh = 0.0
    for qid in sorted(na_probs, key=lambda q: na_probs[q]):
        if qid not in scores:
            continue
        if has_ans[qid]:
            cur += scores[qid]
        elif preds[qid]:
            cur -= 1  # answering an unanswerable question loses its point
        if cur > best:
            best, best_thresh = cur, na_probs[qid]
    return 100.0 * best / n_total, best_thresh


def squad_v2_scores(
    predictions: dict[str, str],
    references: dict[str, list[str]],
    na_probs: dict[str, float],
) -> dict:
    """SQuAD 2.0 official scores.

    An empty gold list marks an unanswerable question, whose only gold is "".
    ``exact``/``f1`` use the official default na_prob_thresh=1.0 (no-answer when
    na_probs[q] > 1.0, which never fires for probabilities). ``best_*`` and
    ``best_*_thresh`` come from the official threshold search over ``na_probs``
    (predict no-answer when na_prob > thresh). Also returns HasAns_/NoAns_
    breakdowns when present.

    Deviation: the official script drops missing predictions from the
    denominator; here they count as 0, as in ``squad_em_f1``.
    """
    if not references:
        raise ValueError("no reference questions to score")
    has_ans = {qid: bool(golds) for qid, golds in references.items()}
    exact: dict[str, float] = {}
    f1: dict[str, float] = {}
    for qid, golds in references.items():
        if qid not in predictions:
            continue
        if qid not in na_probs:
            raise ValueError(f"no no-answer probability for question {qid!r}")
        # Golds that normalise to nothing are dropped, as in the official script.
        golds = [g for g in golds if normalize_answer(g)] or [""]
        pred = predictions[qid]
        exact[qid] = max(float(normalize_answer(g) == normalize_answer(pred)) for g in golds)
        f1[qid] = max(_f1_v2(pred, g) for g in golds)

    # Official default na_prob_thresh=1.0: a question whose score exceeds it is
    # treated as answered "no answer" (right only if it has none).
    def thresholded(raw: dict[str, float]) -> dict[str, float]:
        return {q: float(not has_ans[q]) if na_probs[q] > _NA_PROB_THRESH else s for q, s in raw.items()}

    exact_t, f1_t = thresholded(exact), thresholded(f1)
    n = len(references)
    out: dict[str, float] = {
        "exact": 100.0 * sum(exact_t.values()) / n,
        "f1": 100.0 * sum(f1_t.values()) / n,
        "total": n,
    }
    for prefix, wanted in (("HasAns", True), ("NoAns", False)):
        qids = [q for q in references if has_ans[q] == wanted]
        if qids:
            out[f"{prefix}_exact"] = 100.0 * sum(exact_t.get(q, 0.0) for q in qids) / len(qids)
            out[f"{prefix}_f1"] = 100.0 * sum(f1_t.get(q, 0.0) for q in qids) / len(qids)
            out[f"{prefix}_total"] = len(qids)
    relevant = {q: na_probs[q] for q in na_probs if q in exact}
    out["best_exact"], out["best_exact_thresh"] = _best_thresh(predictions, exact, relevant, has_ans, n)
    out["best_f1"], out["best_f1_thresh"] = _best_thresh(predictions, f1, relevant, has_ans, n)
    return out


def accuracy(predictions: list, references: list) -> dict:
    """Share of predictions equal to their reference, in percent."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    if not references:
        raise ValueError("no examples to score")
    correct = sum(p == r for p, r in zip(predictions, references))
    return {"accuracy": 100.0 * correct / len(references)}


def seqeval_scores(references: list[list[str]], predictions: list[list[str]]) -> dict:
    """Span precision/recall/F1 from seqeval's default (conlleval) mode, as XTREME
    scores both PAN-X and UD-POS, plus token accuracy.

    For POS tags seqeval reads the first letter as a BIO prefix, so e.g. adjacent
    NOUN NOUN tokens form one span "OUN". That is what XTREME reports, so it is
    kept on purpose.
    """
    # Imported here: seqeval pulls in scikit-learn, which is slow to import.
    from seqeval.metrics import f1_score, precision_score, recall_score

    if len(references) != len(predictions):
        raise ValueError(f"{len(references)} reference sentences but {len(predictions)} predicted")
    for i, (ref, pred) in enumerate(zip(references, predictions)):
        if len(ref) != len(pred):
            raise ValueError(f"sentence {i}: {len(ref)} reference tags but {len(pred)} predicted")
    n_tokens = sum(len(ref) for ref in references)
    if n_tokens == 0:
        raise ValueError("no tokens to score")
    correct = sum(r == p for ref, pred in zip(references, predictions) for r, p in zip(ref, pred))
    refs, preds = [list(r) for r in references], [list(p) for p in predictions]
    with warnings.catch_warnings():
        # seqeval warns once per non-BIO tag (every POS tag) and on empty span sets.
        warnings.simplefilter("ignore")
        return {
            "precision": 100.0 * precision_score(refs, preds),
            "recall": 100.0 * recall_score(refs, preds),
            "f1": 100.0 * f1_score(refs, preds),
            "accuracy": 100.0 * correct / n_tokens,
        }


def seqeval_sentence_counts(references: list[list[str]], predictions: list[list[str]]) -> dict[str, list[float]]:
    """Per sentence: correct predicted spans, predicted spans and gold spans, as seqeval's default mode
    counts them; summed over any set of sentences they give its span F1 = 2 tp / (pred + true)."""
    from seqeval.metrics.sequence_labeling import get_entities

    counts = {"tp": [], "n_pred": [], "n_true": []}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # seqeval warns once per non-BIO tag (every POS tag)
        for ref, pred in zip(references, predictions):
            gold, guessed = set(get_entities(list(ref))), set(get_entities(list(pred)))
            counts["tp"].append(float(len(gold & guessed)))
            counts["n_pred"].append(float(len(guessed)))
            counts["n_true"].append(float(len(gold)))
    return counts
