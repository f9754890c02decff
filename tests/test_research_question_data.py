"""The research-question benchmark's derived splits: no XQuAD context is ever trained on, and no
train/dev/test split shares an example."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "research_question.py"


@pytest.fixture(scope="module")
def rq(shared_data):
    spec = importlib.util.spec_from_file_location("research_question", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.DATA = shared_data
    return module


def contexts(path: str) -> list[str]:
    squad = json.loads(Path(path).read_text())
    return [p["context"].strip() for a in squad["data"] for p in a["paragraphs"]]


def question_ids(path: Path) -> set[str]:
    squad = json.loads(path.read_text())
    return {q["id"] for a in squad["data"] for p in a["paragraphs"] for q in p["qas"]}


def test_squad_splits_hold_no_xquad_context_and_share_no_paragraph(rq, shared_data, tmp_path):
    info: dict = {}
    files = rq.prepare_squad_xquad(tmp_path, rq.SCALES["cpu"], info)
    xquad = {p["context"].strip() for a in json.loads((shared_data / "xquad/xquad.en.json").read_text())["data"]
             for p in a["paragraphs"]}
    dev, inter, target = (contexts(files["squad_v1"]["dev"]), contexts(files["squad_v1"]["train"]),
                          contexts(files["xquad"]["train"]))
    assert len(xquad) == 240
    for split in (dev, inter, target):
        assert not set(split) & xquad
    assert not set(dev) & set(inter) and not set(dev) & set(target) and not set(inter) & set(target)
    assert len(dev) + len(inter) + len(target) == 2067 - 240 and info["squad"]["xquad_paragraphs_removed"] == 240
    assert info["squad"]["dev_questions"] >= rq.SCALES["cpu"]["squad_dev_q"] == 200


def test_xquad_test_subset_is_the_same_questions_in_every_language_one_per_paragraph(rq, tmp_path):
    info: dict = {}
    files = rq.prepare_squad_xquad(tmp_path, rq.SCALES["cpu"], info)
    ids = {lang: question_ids(Path(files["xquad"]["test"].format(lang=lang))) for lang in rq.XQUAD_LANGS}
    assert len(ids) == 11
    assert all(chosen == ids["en"] for chosen in ids.values())
    assert len(ids["en"]) == info["xquad"]["test_questions_per_language"] == rq.SCALES["cpu"]["xquad_q"] == 100
    english = json.loads(Path(files["xquad"]["test"].format(lang="en")).read_text())
    assert all(len(p["qas"]) == 1 for a in english["data"] for p in a["paragraphs"])  # distinct paragraphs


def test_mlqa_de_is_the_staged_512_and_the_pilot_rule(rq, tmp_path):
    info: dict = {}
    rq.prepare_mlqa(tmp_path, rq.SCALES["cpu"], info)
    assert len(question_ids(tmp_path / "mlqa/mlqa.de.json")) == info["mlqa"]["test_questions"] == 512
    # 200 dev examples, chance 25%: 2 standard errors = 6.1 points
    assert rq.clears_chance(31.2, 0.25, 200) and not rq.clears_chance(31.0, 0.25, 200)


def test_multiple_choice_dev_sets_split_into_disjoint_train_and_dev(rq, tmp_path):
    sizes = rq.SCALES["cpu"]
    files = rq.prepare_mc(tmp_path, sizes, {})
    hellaswag = {split: Path(files["hellaswag"][split]).read_text().rstrip("\n").split("\n") for split in ("train", "dev")}
    blocks = {split: ["\n".join(lines[i:i + 6]) for i in range(0, len(lines), 6)] for split, lines in hellaswag.items()}
    assert len(blocks["dev"]) == sizes["mc_dev"] and not set(blocks["dev"]) & set(blocks["train"])
    cosmos = {split: [tuple(r) for r in csv.reader(open(files["cosmosqa"][split], newline=""))][1:]
              for split in ("train", "dev")}
    assert len(cosmos["dev"]) == sizes["mc_dev"] and len(cosmos["train"]) + len(cosmos["dev"]) == 2985
    assert not set(cosmos["dev"]) & set(cosmos["train"])
    csqa = {split: [json.loads(line)["id"] for line in Path(files["commonsenseqa"][split]).read_text().splitlines()]
            for split in ("train", "dev")}
    assert len(csqa["dev"]) == sizes["mc_dev"] and len(csqa["train"]) + len(csqa["dev"]) == 1221
    assert not set(csqa["dev"]) & set(csqa["train"])


@pytest.mark.parametrize("scale", ["cpu", "gpu", "quick"])
def test_every_arm_of_every_scale_is_a_valid_budget_matched_experiment(rq, tmp_path, scale):
    from xstilts.config import ExperimentConfig

    sizes, info = rq.SCALES[scale], {}
    data = rq.derive_data(tmp_path, sizes, info, multiple_choice=scale != "gpu")
    assert set(rq.MC_CHANCE) <= set(data) if scale != "gpu" else not set(rq.MC_CHANCE) & set(data)
    if scale == "gpu":  # full test set: every XQuAD question, also from paragraphs with more than 5
        assert info["xquad"]["test_questions_per_language"] == 1190
    models = ["xlm-roberta-large", "roberta-large"]
    arms = {arm: ExperimentConfig.model_validate(rq.arm_config(arm, models, data, sizes, tmp_path, "cuda", tasks))
            for arm, tasks in (("A", []), ("B", []), ("C", ["squad_v1"]))}
    steps = {arm: config.task_training["xquad"].max_steps for arm, config in arms.items()}
    # B trains the target twice as long as A and C; C adds as many SQuAD intermediate steps as B's extra
    assert steps["B"] == 2 * steps["A"] == 2 * steps["C"] == steps["C"] + arms["C"].task_training["squad_v1"].max_steps
    assert [s.tasks for c in arms.values() for s in c.intermediate] == [[], [], ["squad_v1"]]
    assert len(sizes["seeds"]) >= (4 if scale != "quick" else 2)
    for config in arms.values():
        assert config.targets == ["xquad", "mlqa", "udpos"]
        for target in config.targets:
            for template in config.data.get(target, {}).values():  # German is in all three targets
                assert Path(template.format(lang="de", lang3="deu")).exists(), template


def test_report_gives_each_contrast_with_interval_and_p(rq, tmp_path):
    import numpy as np

    from xstilts.evaluation.units import PerExample
    from xstilts.experiments.store import ResultsStore

    store, rng = ResultsStore(tmp_path / "results.db"), np.random.default_rng(0)
    rate = {"A": 0.3, "B": 0.4, "C": 0.5}  # each arm's share of right answers on every test language
    for arm, seed, (target, langs) in ((a, s, t) for a in rate for s in (1, 2, 3, 4) for t in rq.TARGET_LANGS.items()):
        kept = {}
        for lang in langs:
            right = (rng.random(300) < rate[arm]).astype(float).tolist()
            units = {"tp": right, "n_pred": [1.0] * 300, "n_true": [1.0] * 300} if target == "udpos" else \
                {"exact_match": right, "f1": right}
            kept[lang] = PerExample([str(i) for i in range(300)], [""] * 300, units)
        metrics = {lang: {"f1": 0.0, "exact_match": 0.0} for lang in langs}
        store.add_cell(f"{arm}{seed}{target}", "m/multilingual-e5-small", arm, target, seed, metrics, {}, {}, 1.0,
                       examples=kept)
    rq.report(tmp_path, tmp_path / "rq", {}, "cmd", {"A": 60.0}, "cpu", None)
    lines = (tmp_path / "rq.md").read_text().splitlines()
    primary = next(l for l in lines if l.startswith("| C − B") and "| xquad (non-en)" in l).split(" | ")
    delta, (low, high) = float(primary[2]), map(float, primary[3].strip("[]").split(", "))
    assert 7 < delta < 13 and low < 10 < high and low > 0  # the true gain is 10 points
    assert primary[4:] == ["0.029", "4 vs 4", "yes |"]  # 4 + 4 separated seeds: 2 / C(8, 4)
    assert any(l.startswith("| B (target 2N) |") for l in lines)
