"""Sentence-retrieval scoring: Tatoeba accuracy and BUCC 2018 bitext mining.

Embeddings are float32 arrays of shape [n, d]. Similarities come from exact
faiss inner-product search on L2-normalised copies (i.e. cosine), run in query
batches so 100k x 100k never needs an n x n matrix.
"""

from __future__ import annotations

from collections import Counter
from typing import NamedTuple

import numpy as np

from ..progress import working

__all__ = [
    "tatoeba_accuracy",
    "tatoeba_nearest",
    "tatoeba_scores",
    "MarginScores",
    "margin_scores",
    "mine_pairs",
    "distinct_texts",
    "bucc_f1",
    "best_threshold",
    "bucc_scores",
]

_BATCH = 8192  # queries per faiss search call; bounds the temporary memory


def _normalized(emb) -> np.ndarray:
    # A float32 C-contiguous copy, so the caller's array is never normalised in place.
    x = np.array(emb, dtype=np.float32, order="C", copy=True)
    if x.ndim != 2:
        raise ValueError(f"embeddings must be 2-D [n, d], got shape {x.shape}")
    import faiss  # only retrieval tasks need it: training and other targets run without faiss installed

    faiss.normalize_L2(x)
    return x


def _knn(queries: np.ndarray, base: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Cosine kNN of each query row among base rows: (similarities, indices), [nq, k]."""
    import faiss

    index = faiss.IndexFlatIP(base.shape[1])
    index.add(base)
    sims = np.empty((len(queries), k), dtype=np.float32)
    idx = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), _BATCH):
        stop = start + _BATCH
        sims[start:stop], idx[start:stop] = index.search(queries[start:stop], k)
    return sims, idx


def _check_pair(src: np.ndarray, trg: np.ndarray) -> None:
    if len(src) == 0 or len(trg) == 0:
        raise ValueError("both embedding sets must be non-empty")
    if src.shape[1] != trg.shape[1]:
        raise ValueError(f"dimension mismatch: {src.shape[1]} vs {trg.shape[1]}")


def _top1(queries: np.ndarray, base: np.ndarray) -> np.ndarray:
    return _knn(queries, base, 1)[1][:, 0]


def tatoeba_nearest(xx_emb, en_emb) -> dict[str, np.ndarray]:
    """Index of each sentence's top-1 cosine neighbour on the other side of line-aligned rows:
    "en_to_xx" (XTREME's direction: the non-English side is indexed) and "xx_to_en"."""
    xx, en = _normalized(xx_emb), _normalized(en_emb)
    _check_pair(xx, en)
    if len(xx) != len(en):
        raise ValueError(f"Tatoeba needs parallel rows, got {len(xx)} and {len(en)}")
    return {"en_to_xx": _top1(en, xx), "xx_to_en": _top1(xx, en)}


def tatoeba_accuracy(xx_emb, en_emb) -> dict:
    """Top-1 cosine retrieval accuracy (percent) of line-aligned non-English and English rows.

    "accuracy" is XTREME's direction (its ``similarity_search`` indexes the non-English side
    and queries each English sentence): English row i is right when its nearest non-English
    row is row i. "accuracy_xx_to_en" is the other direction, beside it.
    """
    return tatoeba_scores(tatoeba_nearest(xx_emb, en_emb))


def tatoeba_scores(nearest: dict[str, np.ndarray]) -> dict:
    """tatoeba_accuracy from tatoeba_nearest's indices."""
    hit = {direction: 100.0 * float(np.mean(idx == np.arange(len(idx)))) for direction, idx in nearest.items()}
    return {"accuracy": hit["en_to_xx"], "accuracy_xx_to_en": hit["xx_to_en"]}


class MarginScores(NamedTuple):
    """Ratio-margin scores of each side's k cosine nearest neighbours.

    ``fwd_idx[i]`` are the k nearest targets of source i and ``fwd_scores[i]`` their
    margins; ``bwd_idx`` / ``bwd_scores`` are the same from the target side.
    """

    fwd_idx: np.ndarray
    fwd_scores: np.ndarray
    bwd_idx: np.ndarray
    bwd_scores: np.ndarray


def margin_scores(src_emb, trg_emb, k: int = 4) -> MarginScores:
    """Ratio margin (Artetxe & Schwenk, 2019) for kNN candidate pairs:

        score(x, y) = cos(x, y) / (sum_{knn_k(x)} cos / 2k + sum_{knn_k(y)} cos / 2k)

    Scored only for the k cosine neighbours of each side (as LASER does), so the
    cost stays O(n k) memory. k is capped by the size of the other side.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    src, trg = _normalized(src_emb), _normalized(trg_emb)
    _check_pair(src, trg)
    fwd_sim, fwd_idx = _knn(src, trg, min(k, len(trg)))
    bwd_sim, bwd_idx = _knn(trg, src, min(k, len(src)))
    # Mean similarity to the own neighbourhood: how "hubby" each sentence is.
    src_mean, trg_mean = fwd_sim.mean(axis=1), bwd_sim.mean(axis=1)
    fwd_scores = fwd_sim / ((src_mean[:, None] + trg_mean[fwd_idx]) / 2)
    bwd_scores = bwd_sim / ((trg_mean[:, None] + src_mean[bwd_idx]) / 2)
    return MarginScores(fwd_idx, fwd_scores, bwd_idx, bwd_scores)


def mine_pairs(src_emb, trg_emb, k: int = 4) -> list[tuple[int, int, float]]:
    """BUCC candidate mining, LASER's 'max' retrieval with greedy 1:1 alignment.

    Each source proposes its best target by ratio margin among its k cosine
    neighbours, and each target proposes its best source likewise. The union of
    proposals is sorted by score (descending) and a pair is kept only when
    neither its source nor its target was taken by a higher-scoring pair.
    Only pairs with a positive margin are returned, as XTREME's ``mine_bitext`` (threshold 0),
    though a pair with a non-positive margin still takes its source and target.
    Returns (src_index, trg_index, score), best first.
    """
    with working(f"mining {len(src_emb)} x {len(trg_emb)} sentences"):
        m = margin_scores(src_emb, trg_emb, k)
    n_src, n_trg = len(m.fwd_idx), len(m.bwd_idx)
    fwd_arg = m.fwd_scores.argmax(axis=1)
    bwd_arg = m.bwd_scores.argmax(axis=1)
    src_ids = np.concatenate([np.arange(n_src), m.bwd_idx[np.arange(n_trg), bwd_arg]])
    trg_ids = np.concatenate([m.fwd_idx[np.arange(n_src), fwd_arg], np.arange(n_trg)])
    scores = np.concatenate([m.fwd_scores.max(axis=1), m.bwd_scores.max(axis=1)])

    pairs: list[tuple[int, int, float]] = []
    taken_src: set[int] = set()
    taken_trg: set[int] = set()
    # Stable sort so ties keep a deterministic (forward-first) order.
    for i in np.argsort(-scores, kind="stable"):
        s, t = int(src_ids[i]), int(trg_ids[i])
        if s in taken_src or t in taken_trg:
            continue
        taken_src.add(s)
        taken_trg.add(t)
        if scores[i] > 0:
            pairs.append((s, t, float(scores[i])))
    return pairs


def distinct_texts(ids: list[str], texts: list[str]) -> tuple[list[str], dict[str, str]]:
    """XTREME's BUCC view of one side: each distinct text once (first-occurrence order), and
    text -> id for the texts that occur only once (XTREME's ``read_sent2id`` drops repeated
    sentences, so a pair involving one can never be found)."""
    counts = Counter(texts)
    unique_ids = {text: id_ for id_, text in zip(ids, texts) if counts[text] == 1}
    return list(counts), unique_ids


def _dedup(candidates) -> dict[tuple[str, str], float]:
    # One score per pair; a repeated pair keeps its highest score.
    best: dict[tuple[str, str], float] = {}
    for src, trg, score in candidates:
        key = (src, trg)
        if key not in best or score > best[key]:
            best[key] = float(score)
    return best


def _prf(n_correct: int, n_extracted: int, n_gold: int) -> dict:
    if n_correct == 0:
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    p, r = n_correct / n_extracted, n_correct / n_gold
    return {"precision": 100.0 * p, "recall": 100.0 * r, "f1": 100.0 * 2 * p * r / (p + r)}


def bucc_f1(candidates: list[tuple[str, str, float]], gold: set[tuple[str, str]], threshold: float) -> dict:
    """Precision/recall/F1 (percent) of the candidate pairs with score >= threshold."""
    if not gold:
        raise ValueError("gold set is empty")
    kept = {pair for pair, score in _dedup(candidates).items() if score >= threshold}
    return _prf(len(kept & set(gold)), len(kept), len(gold))


def best_threshold(candidates: list[tuple[str, str, float]], gold: set[tuple[str, str]]) -> float:
    """Threshold maximising F1, as XTREME's ``bucc_optimize``.

    Walks candidates by decreasing score; when a prefix sets a new best F1 the
    threshold is the midpoint between its last score and the next one. If the
    best prefix is the whole list the threshold is the last score (XTREME would
    index past the end there). Returns 0.0 when no candidate is correct, as XTREME.
    """
    if not gold:
        raise ValueError("gold set is empty")
    gold = set(gold)
    items = sorted(_dedup(candidates).items(), key=lambda kv: -kv[1])
    threshold, best_f1, n_correct = 0.0, 0.0, 0
    for i, (pair, score) in enumerate(items):
        n_correct += pair in gold
        if n_correct == 0:
            continue
        p, r = n_correct / (i + 1), n_correct / len(gold)
        f1 = 2 * p * r / (p + r)
        if f1 > best_f1:
            best_f1 = f1
            threshold = (score + items[i + 1][1]) / 2 if i + 1 < len(items) else score
    return threshold


def bucc_scores(dev_candidates, dev_gold, test_candidates, test_gold) -> dict:
    """Test precision/recall/F1 at the threshold tuned on dev, plus "threshold"."""
    threshold = best_threshold(dev_candidates, dev_gold)
    return {**bucc_f1(test_candidates, test_gold, threshold), "threshold": threshold}
