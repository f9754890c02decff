"""Hand-computed checks of Tatoeba accuracy and BUCC mining/scoring."""

from __future__ import annotations

import math

import numpy as np
import pytest

from xstilts.evaluation import retrieval
from xstilts.evaluation.retrieval import (
    best_threshold,
    bucc_f1,
    bucc_scores,
    margin_scores,
    mine_pairs,
    tatoeba_accuracy,
)


def _unit(deg: float) -> list[float]:
    r = math.radians(deg)
    return [math.cos(r), math.sin(r)]


# --------------------------------------------------------------------------- Tatoeba


def test_tatoeba_accuracy_uses_cosine():
    xx = np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32)
    en = np.array([[5, 0.5], [0, 1], [1, 0]], dtype=np.float32)
    # xx -> en: x0 -> e0 0.995, e2 1.0      -> e2 (gold e0): wrong
    #           x1 -> e1 1.0                -> e1: right
    #           x2 -> e0 1.1/(1.414*1.005)=0.774, e1 0.707, e2 0.707 -> e0 (gold e2): wrong
    # (a raw dot product would pick e0 for x0 because of its norm 5, giving 2/3)
    # en -> xx: e0 -> x0 0.995: right; e1 -> x1: right; e2 -> x0 1.0, x2 0.707: wrong
    out = tatoeba_accuracy(xx, en)
    assert out["accuracy_xx_to_en"] == pytest.approx(100 / 3)
    assert out["accuracy"] == pytest.approx(200 / 3)
    assert tatoeba_accuracy(en, en) == {"accuracy": 100.0, "accuracy_xx_to_en": 100.0}


def test_tatoeba_headline_is_xtreme_direction():
    """Issue 12's minimal case. XTREME indexes the non-English side and queries each English
    sentence: e0 -> x0 (0.995 vs 0.0995) right, e1 -> x0 (0.958 vs 0.287) wrong: 50.0.
    The other direction (xstilts' headline before the fix): x0 -> e0 (0.995 vs 0.958), x1 -> e1
    (0.287 vs 0.0995), both right: 100.0."""
    xx = np.array([[1, 0], [0, 1]], dtype=np.float32)
    en = np.array([[1, 0.1], [1, 0.3]], dtype=np.float32)
    assert tatoeba_accuracy(xx, en) == {"accuracy": 50.0, "accuracy_xx_to_en": 100.0}


def test_inputs_are_not_modified():
    src = np.array([[3, 4]], dtype=np.float32)
    tatoeba_accuracy(src, src)
    assert src.tolist() == [[3, 4]]


# --------------------------------------------------------------------------- margin + mining

# 2-D unit vectors at these angles, so cos(x, y) = cos(angle difference).
# t0 at 0 deg is a hub: s1 and s2 sit right next to it.
SRC_DEG = [14, -5, 5]
TRG_DEG = [0, 30, -45]
SRC = np.array([_unit(d) for d in SRC_DEG], dtype=np.float32)
TRG = np.array([_unit(d) for d in TRG_DEG], dtype=np.float32)


def _cos(i: int, j: int) -> float:
    return math.cos(math.radians(SRC_DEG[i] - TRG_DEG[j]))


def test_mining_keeps_only_positive_margins():
    """XTREME's mine_bitext writes a pair only when its margin is > 0. With k=1:
    x1 (0 deg) and y0 (0 deg) pair with margin 1; y1 (30 deg) proposes x1 (taken);
    x0 (130 deg) proposes y1 (100 deg apart, cos -0.174), which is free, but its margin is
    -0.174 / ((-0.174 + 0.866) / 2) = -0.50: XTREME drops it (xstilts kept it before)."""
    x = np.array([_unit(130), _unit(0)], dtype=np.float32)
    y = np.array([_unit(0), _unit(30)], dtype=np.float32)
    assert [(s, t) for s, t, _ in mine_pairs(x, y, k=1)] == [(1, 0)]
    m = margin_scores(x, y, k=1)
    assert m.fwd_idx[0, 0] == 1 and m.fwd_scores[0, 0] == pytest.approx(-0.1736 / ((-0.1736 + 0.8660) / 2), abs=1e-3)


def test_margin_changes_pairing_against_hub():
    # With k=2:
    #   cos       t0      t1      t2
    #   s0     0.9703  0.9613  0.5150
    #   s1     0.9962  0.8192  0.7660
    #   s2     0.9962  0.9063  0.6428
    # knn means: s0 (0.9703+0.9613)/2 = 0.9658,  t0 (0.9962+0.9962)/2 = 0.9962,
    #            t1 (0.9613+0.9063)/2 = 0.9338
    # margin(s0,t0) = 0.9703 / ((0.9658+0.9962)/2) = 0.9891
    # margin(s0,t1) = 0.9613 / ((0.9658+0.9338)/2) = 1.0121   <- beats the hub
    cos_nn = max(range(3), key=lambda j: _cos(0, j))
    assert cos_nn == 0  # raw cosine picks the hub

    m = margin_scores(SRC, TRG, k=2)
    assert m.fwd_idx[0].tolist() == [0, 1]
    s0_mean = (_cos(0, 0) + _cos(0, 1)) / 2
    t0_mean = (_cos(1, 0) + _cos(2, 0)) / 2
    t1_mean = (_cos(0, 1) + _cos(2, 1)) / 2
    assert m.fwd_scores[0, 0] == pytest.approx(_cos(0, 0) / ((s0_mean + t0_mean) / 2), rel=1e-5)
    assert m.fwd_scores[0, 1] == pytest.approx(_cos(0, 1) / ((s0_mean + t1_mean) / 2), rel=1e-5)
    assert m.fwd_scores[0, 0] == pytest.approx(0.9891, abs=1e-4)
    assert m.fwd_scores[0, 1] == pytest.approx(1.0121, abs=1e-4)


def test_mine_pairs_greedy_one_to_one():
    # Proposals (best margin among each side's 2 cosine neighbours):
    #   fwd s0->t1 1.0121, s1->t0 0.9962/((0.9077+0.9962)/2) = 1.0465,
    #       s2->t0 0.9962/((0.9513+0.9962)/2) = 1.0231
    #   bwd t0->s1 1.0465, t1->s0 1.0121, t2->s1 0.7660/((0.7044+0.9077)/2) = 0.9504
    # Greedy by score: (s1,t0) kept; (s2,t0) dropped, t0 taken; (s0,t1) kept;
    # (s1,t2) dropped, s1 taken. s2 stays unpaired.
    pairs = mine_pairs(SRC, TRG, k=2)
    assert [(s, t) for s, t, _ in pairs] == [(1, 0), (0, 1)]
    assert pairs[0][2] == pytest.approx(1.0465, abs=1e-4)
    assert pairs[1][2] == pytest.approx(1.0121, abs=1e-4)


def test_mining_batched_equals_unbatched(monkeypatch):
    rng = np.random.default_rng(0)
    src = rng.standard_normal((300, 16)).astype(np.float32)
    trg = (src + 0.1 * rng.standard_normal((300, 16))).astype(np.float32)[::-1].copy()
    full = mine_pairs(src, trg)
    monkeypatch.setattr(retrieval, "_BATCH", 7)  # many small faiss searches
    batched = mine_pairs(src, trg)
    assert [p[:2] for p in batched] == [p[:2] for p in full]
    assert [p[2] for p in batched] == pytest.approx([p[2] for p in full])
    # the noisy copies are found: source i pairs with target 299 - i
    assert sorted((s, t) for s, t, _ in full) == [(i, 299 - i) for i in range(300)]


def test_k_larger_than_corpus_is_capped():
    pairs = mine_pairs(SRC[:1], TRG[:1], k=4)
    assert [(s, t) for s, t, _ in pairs] == [(0, 0)]
    # one neighbour each side: margin = cos / ((cos + cos)/2) = 1
    assert pairs[0][2] == pytest.approx(1.0)


# --------------------------------------------------------------------------- BUCC scoring

DEV = [("a1", "b1", 0.9), ("a2", "b2", 0.8), ("a3", "b9", 0.7), ("a4", "b4", 0.6), ("a5", "b8", 0.5)]
DEV_GOLD = {("a1", "b1"), ("a2", "b2"), ("a4", "b4"), ("a6", "b6")}


def test_best_threshold_hand_computed():
    # walk by score (4 gold pairs):
    #   0.9 ok  P=1   R=1/4 F1=0.400 best -> thr (0.9+0.8)/2 = 0.85
    #   0.8 ok  P=1   R=2/4 F1=0.667 best -> thr (0.8+0.7)/2 = 0.75
    #   0.7 bad P=2/3 R=2/4 F1=0.571
    #   0.6 ok  P=3/4 R=3/4 F1=0.750 best -> thr (0.6+0.5)/2 = 0.55
    #   0.5 bad P=3/5 R=3/4 F1=0.667
    assert best_threshold(DEV, DEV_GOLD) == pytest.approx(0.55)


def test_threshold_tuned_on_dev_applied_to_test():
    test = [("x1", "y1", 0.95), ("x2", "y2", 0.56), ("x3", "y7", 0.54), ("x4", "y4", 0.3)]
    test_gold = {("x1", "y1"), ("x2", "y2"), ("x3", "y3"), ("x4", "y4")}
    # kept at >= 0.55: x1-y1, x2-y2, both right -> P=1, R=2/4, F1 = 1/1.5 = 2/3
    out = bucc_scores(DEV, DEV_GOLD, test, test_gold)
    assert out["threshold"] == pytest.approx(0.55)
    assert out["precision"] == pytest.approx(100.0)
    assert out["recall"] == pytest.approx(50.0)
    assert out["f1"] == pytest.approx(100 * 2 / 3)


def test_bucc_f1_edges():
    gold = {("a", "b"), ("c", "d")}
    # gold copy -> 100
    assert bucc_f1([("a", "b", 2.0), ("c", "d", 1.5)], gold, 1.0)["f1"] == 100.0
    # one right, one wrong kept; "c-d" below threshold -> P=1/2 R=1/2 F1=1/2
    out = bucc_f1([("a", "b", 2.0), ("a", "x", 1.2), ("c", "d", 0.5)], gold, 1.0)
    assert out == pytest.approx({"precision": 50.0, "recall": 50.0, "f1": 50.0})
    # best prefix = whole list -> threshold is its last score; nothing right -> 0.0
    assert best_threshold([("a", "b", 0.9)], {("a", "b")}) == pytest.approx(0.9)
    assert best_threshold([("a", "x", 0.9)], {("a", "b")}) == 0.0
