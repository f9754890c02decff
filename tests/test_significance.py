"""Significance of gains: exact permutation p-values, the paired bootstrap over examples and seeds,
and per-example units that recompute every stored metric."""

from math import comb

import numpy as np
import pytest

from xstilts.evaluation.metrics import seqeval_scores, seqeval_sentence_counts, squad_em_f1, squad_per_question
from xstilts.evaluation.significance import gain, paired_bootstrap, permutation_p
from xstilts.evaluation.units import PerExample, mean_of, recompute, span_f1

accuracy = mean_of("correct")


def arm(rates, n, rng, languages=("de",)):
    """Seeds of 0/1 correctness with the given per-seed accuracies on n examples per language."""
    return [{lang: {"correct": (rng.random(n) < rate).astype(float)} for lang in languages} for rate in rates]


def test_permutation_p_by_hand():
    # 3 + 3 seeds: C(6, 3) = 20 relabelings; only the observed split and its mirror reach |diff| = 3
    assert permutation_p([1, 2, 3], [4, 5, 6]) == pytest.approx(2 / 20)
    # identical arms: every relabeling is at least as extreme as 0
    assert permutation_p([1, 1], [1, 1]) == 1.0
    # 4 + 4 seeds fully separated: 2 / C(8, 4)
    assert permutation_p([0, 1, 2, 3], [10, 11, 12, 13]) == pytest.approx(2 / comb(8, 4))
    # [1, 2] vs [3, 5]: diffs of the 6 splits are ±2.5 (observed), ±1.5, ±0.5 -> 2 of 6
    assert permutation_p([1, 2], [3, 5]) == pytest.approx(2 / 6)


def test_bootstrap_covers_known_difference_and_excludes_zero():
    rng = np.random.default_rng(1)
    base, better = arm([0.60, 0.61, 0.59, 0.60], 3000, rng), arm([0.70, 0.69, 0.71, 0.70], 3000, rng)
    result = gain(base, better, ["de"], accuracy, resamples=500)
    assert result.low < 10.0 < result.high  # the true difference is 10 points
    assert result.significant and result.seeds == (4, 4)
    assert result.p == pytest.approx(2 / comb(8, 4))
    assert result.low < result.delta < result.high


def test_no_difference_interval_contains_zero():
    rng = np.random.default_rng(2)
    base, same = arm([0.5, 0.5, 0.5], 400, rng), arm([0.5, 0.5, 0.5], 400, rng)
    result = gain(base, same, ["de"], accuracy, resamples=500)
    assert result.low < 0 < result.high and not result.significant


def test_bootstrap_is_paired_over_examples():
    # the setting gets exactly two more examples right than the baseline, in every seed: pairing the
    # example indices keeps the difference near 2/n; unpaired it would spread over +-10 points
    n = 200
    base_units = np.zeros(n)
    base_units[: n // 2] = 1
    better = base_units.copy()
    better[n // 2: n // 2 + 2] = 1
    low, high = paired_bootstrap([{"de": {"correct": base_units}}] * 3, [{"de": {"correct": better}}] * 3, ["de"],
                                 accuracy, resamples=400)
    assert 0 <= low <= 1.0 <= high <= 3.0


def test_bootstrap_deterministic_with_seed_and_language_average():
    rng = np.random.default_rng(3)
    base, other = arm([0.4, 0.5], 100, rng, ("de", "es")), arm([0.5, 0.6], 100, rng, ("de", "es"))
    first = paired_bootstrap(base, other, ["de", "es"], accuracy, resamples=300, seed=7)
    assert first == paired_bootstrap(base, other, ["de", "es"], accuracy, resamples=300, seed=7)
    assert first != paired_bootstrap(base, other, ["de", "es"], accuracy, resamples=300, seed=8)


def test_squad_units_recompute_the_metric():
    predictions = {"a": "the cat", "b": "dog house", "c": "zebra"}
    references = {"a": ["cat"], "b": ["a dog"], "c": ["horse"], "d": ["missing"]}
    units = squad_per_question(predictions, references)
    assert units == {"exact_match": [1.0, 0.0, 0.0, 0.0], "f1": [1.0, pytest.approx(2 / 3), 0.0, 0.0]}
    recomputed = recompute({"exact_match": mean_of("exact_match"), "f1": mean_of("f1")}, units)
    assert {k: float(v) for k, v in recomputed.items()} == pytest.approx(squad_em_f1(predictions, references))


def test_span_counts_recompute_seqeval_f1_on_any_subset():
    refs = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG"], ["B-LOC", "O", "B-PER"]]
    preds = [["B-PER", "I-PER", "O", "O"], ["B-ORG", "B-ORG"], ["B-LOC", "O", "B-LOC"]]
    counts = seqeval_sentence_counts(refs, preds)
    assert counts == {"tp": [1.0, 1.0, 1.0], "n_pred": [1.0, 2.0, 2.0], "n_true": [2.0, 1.0, 2.0]}
    for subset in ([0, 1, 2], [0, 2], [1, 1, 2]):
        sampled = {unit: [values[i] for i in subset] for unit, values in counts.items()}
        expected = seqeval_scores([refs[i] for i in subset], [preds[i] for i in subset])["f1"]
        assert float(span_f1({k: np.asarray(v) for k, v in sampled.items()})) == pytest.approx(expected)


def test_per_example_blob_round_trip():
    kept = PerExample(["q1", "q2"], ["Sänger", ""], {"exact_match": [1.0, 0.0], "f1": [1.0, 0.5]})
    assert PerExample.from_blob(kept.to_blob()) == kept


def test_report_section_from_stored_examples(tmp_path):
    from xstilts.experiments.report import build_report
    from xstilts.experiments.store import ResultsStore

    store, rng = ResultsStore(tmp_path / "results.db"), np.random.default_rng(0)
    rates = {"baseline": [0.50, 0.51, 0.52], "mnli": [0.70, 0.71, 0.72]}
    for setting, per_seed in rates.items():
        for seed, rate in enumerate(per_seed, 1):
            kept = {lang: PerExample([str(i) for i in range(500)], ["entailment"] * 500,
                                     {"correct": (rng.random(500) < rate).astype(float).tolist()}) for lang in ("de", "en")}
            metrics = {lang: {"accuracy": 100 * float(np.mean(k.units["correct"]))} for lang, k in kept.items()}
            store.add_cell(f"{setting}{seed}", "m", setting, "xnli", seed, metrics, {}, {}, 1.0, examples=kept)
    assert store.examples("mnli1")["de"].units["correct"] == kept_units(store, "mnli1")
    section = build_report(store.rows(), examples=store.examples)[1]
    average = next(b for b in section.blocks if b.title == "Language average – m")
    (row,) = average.rows
    scores = {s: np.mean([np.mean(store.examples(f"{s}{seed}")[lang].units["correct"]) for seed in (1, 2, 3)
                          for lang in ("de", "en")]) for s in rates}
    assert row[:2] == ["mnli", "xnli"] and row[2].startswith(f"{100 * (scores['mnli'] - scores['baseline']):+.1f} [")
    assert row[2].endswith("✓") and row[3:] == ["0.100", "3 + 3"]  # 3 + 3 fully separated seeds: 2 / 20
    languages = next(b for b in section.blocks if b.title == "xnli per language – m")
    assert [r[0] for r in languages.rows] == ["de", "en"]


def kept_units(store, key):
    import sqlite3
    import zlib
    import json

    (blob,) = sqlite3.connect(store.path).execute(
        "SELECT data FROM examples WHERE cell_key = ? AND language = 'de'", (key,)).fetchone()
    return json.loads(zlib.decompress(blob))["units"]["correct"]
