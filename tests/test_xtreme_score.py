"""Hand-computed checks of the XTREME score aggregation."""

from __future__ import annotations

import pytest

from xstilts.evaluation.xtreme_score import TASK_GROUPS, task_score, xtreme_score


def _full_results() -> dict:
    return {
        "xnli": {"en": {"accuracy": 80.0}, "de": {"accuracy": 70.0}},  # 75
        "pawsx": {"en": {"accuracy": 90.0}, "de": {"accuracy": 80.0}},  # 85
        "udpos": {"en": {"f1": 70.0}, "de": {"f1": 80.0}},  # 75
        "panx": {"en": {"f1": 60.0, "precision": 1.0}, "de": {"f1": 70.0}},  # 65
        # (60+70)/2 = 65, (40+60)/2 = 50 -> 57.5
        "xquad": {"en": {"exact_match": 60.0, "f1": 70.0}, "de": {"exact_match": 40.0, "f1": 60.0}},
        # (50+60)/2 = 55, (30+50)/2 = 40 -> 47.5
        "mlqa": {"en": {"exact_match": 50.0, "f1": 60.0}, "de": {"exact_match": 30.0, "f1": 50.0}},
        "tydiqa": {"en": {"exact_match": 40.0, "f1": 50.0}},  # 45
        "bucc2018": {"de": {"f1": 80.0}, "fr": {"f1": 70.0}},  # 75
        "tatoeba": {"de": {"accuracy": 50.0}, "fr": {"accuracy": 60.0}},  # 55
    }


def test_task_groups_names():
    assert TASK_GROUPS == {
        "classification": ["xnli", "pawsx"],
        "structured_prediction": ["udpos", "panx"],
        "question_answering": ["xquad", "mlqa", "tydiqa"],
        "retrieval": ["bucc2018", "tatoeba"],
    }


def test_task_score_qa_averages_em_and_f1():
    assert task_score(_full_results()["xquad"], "xquad") == pytest.approx(57.5)
    assert task_score(_full_results()["panx"], "panx") == pytest.approx(65.0)


def test_xtreme_score_all_tasks():
    out = xtreme_score(_full_results())
    assert out["tasks"] == pytest.approx(
        {"xnli": 75, "pawsx": 85, "udpos": 75, "panx": 65, "xquad": 57.5,
         "mlqa": 47.5, "tydiqa": 45, "bucc2018": 75, "tatoeba": 55}
    )
    # groups: (75+85)/2=80, (75+65)/2=70, (57.5+47.5+45)/3=50, (75+55)/2=65
    assert out["groups"] == pytest.approx(
        {"classification": 80, "structured_prediction": 70, "question_answering": 50, "retrieval": 65}
    )
    # overall: mean of the 9 tasks = 580/9 (not the mean of the groups, 66.25)
    assert out["overall"] == pytest.approx(580 / 9)
    assert out["missing"] == []


def test_xtreme_score_with_missing_tasks():
    results = _full_results()
    del results["xquad"]
    results["tatoeba"] = {}  # no languages counts as missing
    out = xtreme_score(results)
    assert out["overall"] is None
    assert out["missing"] == ["xquad", "tatoeba"]
    # QA over the present tasks: (47.5+45)/2; retrieval: bucc only
    assert out["groups"]["question_answering"] == pytest.approx(46.25)
    assert out["groups"]["retrieval"] == pytest.approx(75.0)
    assert "xquad" not in out["tasks"]


def test_xtreme_score_rejects_bad_input():
    with pytest.raises(ValueError, match="paws-x"):
        xtreme_score({"paws-x": {"en": {"accuracy": 1.0}}})
    with pytest.raises(KeyError, match="exact_match"):
        task_score({"en": {"f1": 50.0}}, "mlqa")
