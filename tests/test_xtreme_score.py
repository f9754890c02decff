"""Hand-computed checks of the XTREME score aggregation."""

from __future__ import annotations

from statistics import fmean

import pytest

from xstilts.evaluation.xtreme_score import TASK_GROUPS, task_score, xtreme_languages, xtreme_score


TASK_VALUES = {  # task -> (en or first-language metrics, metrics of every other XTREME language)
    "xnli": ({"accuracy": 80.0}, {"accuracy": 70.0}),
    "pawsx": ({"accuracy": 90.0}, {"accuracy": 80.0}),
    "udpos": ({"f1": 70.0}, {"f1": 80.0}),
    "panx": ({"f1": 60.0, "precision": 1.0}, {"f1": 70.0}),
    "xquad": ({"exact_match": 60.0, "f1": 70.0}, {"exact_match": 40.0, "f1": 60.0}),
    "mlqa": ({"exact_match": 50.0, "f1": 60.0}, {"exact_match": 30.0, "f1": 50.0}),
    "tydiqa": ({"exact_match": 40.0, "f1": 50.0}, {"exact_match": 40.0, "f1": 50.0}),
    "bucc2018": ({"f1": 80.0}, {"f1": 70.0}),
    "tatoeba": ({"accuracy": 50.0}, {"accuracy": 60.0}),
}


def _full_results() -> dict:
    """Every task on exactly XTREME's languages: the first language gets the first metrics."""
    return {task: {lang: dict(TASK_VALUES[task][i > 0]) for i, lang in enumerate(xtreme_languages(task))}
            for task in TASK_VALUES}


def _expected(task: str) -> float:
    n = len(xtreme_languages(task))
    first, rest = (fmean(v for k, v in metrics.items() if k != "precision") for metrics in TASK_VALUES[task])
    return (first + (n - 1) * rest) / n


def test_task_groups_names():
    assert TASK_GROUPS == {
        "classification": ["xnli", "pawsx"],
        "structured_prediction": ["udpos", "panx"],
        "question_answering": ["xquad", "mlqa", "tydiqa"],
        "retrieval": ["bucc2018", "tatoeba"],
    }


def test_task_score_qa_averages_em_and_f1():
    # (60 + 70) / 2 = 65 and (40 + 60) / 2 = 50 -> 57.5
    assert task_score({"en": TASK_VALUES["xquad"][0], "de": TASK_VALUES["xquad"][1]}, "xquad") == pytest.approx(57.5)
    assert task_score({"en": TASK_VALUES["panx"][0], "de": TASK_VALUES["panx"][1]}, "panx") == pytest.approx(65.0)


def test_xtreme_languages_are_the_registry_lists():
    assert xtreme_languages("xquad") == tuple("ar de el en es hi ru th tr vi zh".split())
    assert len(xtreme_languages("tatoeba")) == 36 and len(xtreme_languages("panx")) == 40
    assert xtreme_languages("bucc2018") == ("de", "fr", "ru", "zh")


def test_xtreme_score_all_tasks():
    out = xtreme_score(_full_results())
    # xquad: en (60+70)/2 = 65 and 10 languages at (40+60)/2 = 50 -> (65 + 500) / 11
    assert out["tasks"]["xquad"] == pytest.approx(565 / 11)
    assert out["tasks"] == pytest.approx({t: _expected(t) for t in TASK_VALUES})
    assert out["groups"]["retrieval"] == pytest.approx((_expected("bucc2018") + _expected("tatoeba")) / 2)
    # overall: mean of the 9 tasks (not the mean of the groups)
    assert out["overall"] == pytest.approx(fmean(_expected(t) for t in TASK_VALUES))
    assert out["missing"] == [] and out["not_comparable"] == {}


def test_a_language_xtreme_does_not_score_is_left_out_and_reported_beside():
    """XQuAD ro at 0.0 would pull the XQuAD mean down; XTREME's score ignores it."""
    complete = xtreme_score(_full_results())
    results = _full_results()
    results["xquad"]["ro"] = {"exact_match": 0.0, "f1": 0.0}
    out = xtreme_score(results)
    assert out["tasks"] == pytest.approx(complete["tasks"]) and out["overall"] == pytest.approx(complete["overall"])
    assert out["not_comparable"] == pytest.approx({"xquad": 565 / 12})


def test_a_missing_language_makes_the_task_missing():
    results = _full_results()
    del results["bucc2018"]["zh"]
    out = xtreme_score(results)
    assert out["overall"] is None and out["missing"] == ["bucc2018"] and "bucc2018" not in out["tasks"]
    assert out["not_comparable"] == pytest.approx({"bucc2018": 220 / 3})  # de 80, fr 70, ru 70
    assert out["groups"]["retrieval"] == pytest.approx(_expected("tatoeba"))


def test_xtreme_score_with_missing_tasks():
    results = _full_results()
    del results["xquad"]
    results["tatoeba"] = {}  # no languages counts as missing
    out = xtreme_score(results)
    assert out["overall"] is None
    assert out["missing"] == ["xquad", "tatoeba"]
    assert out["groups"]["question_answering"] == pytest.approx((_expected("mlqa") + _expected("tydiqa")) / 2)
    assert out["groups"]["retrieval"] == pytest.approx(_expected("bucc2018"))
    assert "xquad" not in out["tasks"]


def test_xtreme_score_rejects_bad_input():
    with pytest.raises(ValueError, match="paws-x"):
        xtreme_score({"paws-x": {"en": {"accuracy": 1.0}}})
    with pytest.raises(KeyError, match="exact_match"):
        task_score({"en": {"f1": 50.0}}, "mlqa")
