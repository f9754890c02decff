"""Hand-computed checks of the QA, classification and tagging metrics."""

from __future__ import annotations

import pytest

from xstilts.evaluation.metrics import (
    accuracy,
    normalize_answer,
    seqeval_scores,
    squad_em_f1,
    squad_v2_scores,
)

# --------------------------------------------------------------------------- SQuAD v1.1


def test_squad_normalisation():
    # lower -> "the cat, sat!" ; drop punctuation -> "the cat sat" ; drop "the" -> "cat sat"
    assert normalize_answer("The Cat, sat!") == "cat sat"
    # "an" goes only as a whole word: "answer" keeps its "an"
    assert normalize_answer("An  answer\tA") == "answer"
    # SQuAD only knows ASCII punctuation, so the Hindi danda survives
    assert normalize_answer("दिल्ली।") == "दिल्ली।"


def test_squad_em_f1_hand_computed():
    refs = {
        "q1": ["Denver Broncos"],
        "q2": ["Santa Clara, California", "Levi's Stadium"],
        "q3": ["a dog"],
        "q4": ["blue"],
    }
    preds = {
        "q1": "the Denver Broncos!",  # normalises to "denver broncos": EM 1, F1 1
        # -> "levis stadium in santa clara" (5 tokens)
        # vs "santa clara california": 2 shared, P=2/5 R=2/3 -> F1 = 0.5
        # vs "levis stadium":           2 shared, P=2/5 R=1   -> F1 = 0.8/1.4 = 4/7  (max)
        "q2": "Levi's Stadium in Santa Clara",
        "q3": "cat",  # vs "dog": no overlap -> 0
        # q4 missing -> 0, still counted
    }
    out = squad_em_f1(preds, refs)
    assert out["exact_match"] == pytest.approx(100 * 1 / 4)  # 25.0
    assert out["f1"] == pytest.approx(100 * (1 + 4 / 7) / 4)  # 39.2857...


def test_squad_gold_copy_scores_100():
    refs = {"a": ["Denver Broncos", "Broncos"], "b": ["1990"], "c": ["the Eiffel Tower"]}
    preds = {qid: golds[0] for qid, golds in refs.items()}
    assert squad_em_f1(preds, refs) == {"exact_match": 100.0, "f1": 100.0}


def test_squad_v1_both_empty_is_em_but_not_f1():
    # "the" and "an" both normalise to "": EM matches, but v1.1 F1 has no shared token -> 0
    out = squad_em_f1({"q": "the"}, {"q": ["an"]})
    assert out == {"exact_match": 100.0, "f1": 0.0}


# --------------------------------------------------------------------------- MLQA


def _em_f1(pred, gold, lang):
    return squad_em_f1({"q": pred}, {"q": [gold]}, lang=lang, mlqa=True)


def test_mlqa_arabic_removes_al_everywhere():
    # MLQA's regex replaces every "ال" with a space: "الكتاب" -> " كتاب" -> "كتاب"
    assert normalize_answer("الكتاب", "ar", mlqa=True) == "كتاب"
    # ... even inside a word: "مال" = "م" + "ال" -> "م"
    assert normalize_answer("مال", "ar", mlqa=True) == "م"
    assert _em_f1("الكتاب", "كتاب", "ar") == {"exact_match": 100.0, "f1": 100.0}
    # English rules keep "الكتاب" as one token different from "كتاب"
    assert _em_f1("الكتاب", "كتاب", "en") == {"exact_match": 0.0, "f1": 0.0}


def test_mlqa_german_articles():
    assert normalize_answer("Der Hund", "de", mlqa=True) == "hund"
    assert _em_f1("der Hund", "Hund", "de")["exact_match"] == 100.0
    # en keeps "der": "der hund" vs "hund" -> P=1/2 R=1 -> F1 = 2/3
    en = _em_f1("der Hund", "Hund", "en")
    assert en["exact_match"] == 0.0
    assert en["f1"] == pytest.approx(100 * 2 / 3)


def test_mlqa_spanish_articles():
    assert normalize_answer("Los perros y las gatas", "es", mlqa=True) == "perros y gatas"
    assert _em_f1("el perro", "perro", "es")["exact_match"] == 100.0
    assert _em_f1("el perro", "perro", "en")["exact_match"] == 0.0
    # the official MLQA list has no "lo"
    assert normalize_answer("lo mismo", "es", mlqa=True) == "lo mismo"


def test_mlqa_vietnamese_articles():
    assert normalize_answer("Cái bàn", "vi", mlqa=True) == "bàn"
    assert _em_f1("cái bàn", "bàn", "vi")["exact_match"] == 100.0
    assert _em_f1("cái bàn", "bàn", "en")["exact_match"] == 0.0


def test_mlqa_hindi_has_no_articles_and_unicode_punctuation():
    # hi removes no article, so the Latin "a" stays: "विटामिन a" vs "विटामिन"
    # -> P=1/2 R=1 -> F1 = 2/3, EM 0; the English rule would drop "a" and match.
    hi = _em_f1("विटामिन A", "विटामिन", "hi")
    assert hi["exact_match"] == 0.0
    assert hi["f1"] == pytest.approx(100 * 2 / 3)
    assert _em_f1("विटामिन A", "विटामिन", "en")["exact_match"] == 100.0
    # MLQA drops Unicode punctuation (the danda is category Po); SQuAD does not
    assert normalize_answer("दिल्ली।", "hi", mlqa=True) == "दिल्ली"
    assert squad_em_f1({"q": "दिल्ली।"}, {"q": ["दिल्ली"]})["exact_match"] == 0.0


def test_mlqa_chinese_mixed_segmentation():
    # every CJK char is a token, the Latin run "abc def" is whitespace-split,
    # and the full-width "。" (category Po) is removed
    assert normalize_answer("北京大学ABC def。", "zh", mlqa=True) == "北 京 大 学 abc def"
    # pred [北 京 大 学] vs gold [北 京]: 2 shared, P=2/4 R=1 -> F1 = 2/3
    zh = _em_f1("北京大学", "北京", "zh")
    assert zh["exact_match"] == 0.0
    assert zh["f1"] == pytest.approx(100 * 2 / 3)
    # whitespace tokenisation sees one token each, "北京大学" != "北京" -> 0
    assert _em_f1("北京大学", "北京", "en")["f1"] == 0.0
    # digits stay one token: [2008 年 北 京 奥 运 会] vs [2008 年]
    # 2 shared, P=2/7 R=1 -> F1 = 2*(2/7)/(9/7) = 4/9
    assert _em_f1("2008年北京奥运会", "2008年", "zh")["f1"] == pytest.approx(100 * 4 / 9)


def test_mlqa_unknown_language():
    with pytest.raises(ValueError, match="fr"):
        normalize_answer("le chat", "fr", mlqa=True)


# --------------------------------------------------------------------------- SQuAD 2.0


def test_squad_v2_threshold_search():
    refs = {"q1": ["Paris"], "q2": [], "q3": ["blue whale"], "q4": []}
    preds = {"q1": "Paris", "q2": "London", "q3": "whale", "q4": ""}
    na = {"q1": 0.1, "q2": 0.6, "q3": 0.3, "q4": 0.9}
    # raw EM: q1 1, q2 0 (gold ""), q3 0, q4 1 (""=="")          -> 2/4 = 50
    # raw F1: q1 1, q2 0, q3 P=1 R=1/2 -> 2/3, q4 1 (both empty) -> (8/3)/4 = 66.67
    out = squad_v2_scores(preds, refs, na)
    assert out["exact"] == pytest.approx(50.0)
    assert out["f1"] == pytest.approx(100 * (8 / 3) / 4)
    assert out["HasAns_exact"] == pytest.approx(50.0)
    assert out["HasAns_f1"] == pytest.approx(100 * (5 / 6))
    assert out["NoAns_exact"] == pytest.approx(50.0)
    # Threshold search, start = 2 (all no-answer: q2, q4 right), walk by na prob:
    #   EM: q1(0.1) +1 -> 3 best@0.1 ; q3(0.3) +0 ; q2(0.6) -1 ; q4(0.9) 0  -> 3/4
    #   F1: q1(0.1) +1 -> 3 best@0.1 ; q3(0.3) +2/3 -> 11/3 best@0.3 ; q2 -1 ; q4 0
    assert out["best_exact"] == pytest.approx(75.0)
    assert out["best_exact_thresh"] == pytest.approx(0.1)
    assert out["best_f1"] == pytest.approx(100 * (11 / 3) / 4)  # 91.67
    assert out["best_f1_thresh"] == pytest.approx(0.3)


def test_squad_v2_default_threshold_one():
    # Official default na_prob_thresh = 1.0: a score above it means "no answer".
    # q1 has an answer but na 2.5 > 1 -> 0 ; q2 has none, na 3.0 > 1 -> 1 despite "Rome"
    refs = {"q1": ["Paris"], "q2": []}
    out = squad_v2_scores({"q1": "Paris", "q2": "Rome"}, refs, {"q1": 2.5, "q2": 3.0})
    assert out["exact"] == pytest.approx(50.0)
    assert out["f1"] == pytest.approx(50.0)


def test_squad_v2_gold_copy_scores_100():
    refs = {"a": ["Paris"], "b": [], "c": ["the Nile", "Nile river"]}
    preds = {q: (g[0] if g else "") for q, g in refs.items()}
    out = squad_v2_scores(preds, refs, {q: 0.5 for q in refs})
    assert out["exact"] == out["f1"] == out["best_exact"] == out["best_f1"] == 100.0


# --------------------------------------------------------------------------- accuracy


def test_accuracy():
    # matches at positions 0 and 2 -> 2/4
    assert accuracy([1, 0, 2, 2], [1, 1, 2, 0]) == {"accuracy": 50.0}
    assert accuracy(["a", "b"], ["a", "b"]) == {"accuracy": 100.0}
    with pytest.raises(ValueError):
        accuracy([1], [1, 2])


# --------------------------------------------------------------------------- seqeval


def test_seqeval_ner():
    refs = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "I-ORG", "O"]]
    preds = [["I-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "O", "O"]]
    # gold spans: PER(0-1) LOC(3) ORG(s1 0-1)                       -> 3
    # pred spans: PER(0-1) (conlleval: I- after O opens a span), ORG(3), ORG(s1 0) -> 3
    # correct: PER(0-1) only -> P = R = F1 = 1/3
    # tokens right: s0 2/4, s1 2/3 -> 4/7
    out = seqeval_scores(refs, preds)
    assert out["precision"] == pytest.approx(100 / 3)
    assert out["recall"] == pytest.approx(100 / 3)
    assert out["f1"] == pytest.approx(100 / 3)
    assert out["accuracy"] == pytest.approx(100 * 4 / 7)


def test_seqeval_pos_merges_like_xtreme():
    # seqeval reads the first letter as a BIO prefix: DET -> "ET", NOUN -> "OUN",
    # VERB -> "ERB", and equal neighbours merge into one span.
    refs = [["DET", "NOUN", "NOUN", "VERB"]]  # ET(0) OUN(1-2) ERB(3)
    preds = [["DET", "NOUN", "VERB", "VERB"]]  # ET(0) OUN(1)   ERB(2-3)
    # only ET(0) agrees -> P = R = F1 = 1/3, while 3/4 tokens are right
    out = seqeval_scores(refs, preds)
    assert out["f1"] == pytest.approx(100 / 3)
    assert out["precision"] == pytest.approx(100 / 3)
    assert out["accuracy"] == pytest.approx(75.0)


def test_seqeval_gold_copy_and_length_check():
    refs = [["B-PER", "I-PER", "O"], ["ADJ", "NOUN"]]
    out = seqeval_scores(refs, refs)
    assert out == {"precision": 100.0, "recall": 100.0, "f1": 100.0, "accuracy": 100.0}
    with pytest.raises(ValueError, match="sentence 1"):
        seqeval_scores(refs, [["B-PER", "I-PER", "O"], ["ADJ"]])
