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
    assert len(dev) + len(inter) + len(target) == info["squad"]["paragraphs_total"] - 240 == 2067 - 240
    assert info["squad"]["dev_questions"] >= rq.SCALES["cpu"]["squad_dev_q"]


def test_xquad_test_subset_is_the_same_questions_in_every_language(rq, tmp_path):
    info: dict = {}
    files = rq.prepare_squad_xquad(tmp_path, rq.SCALES["cpu"], info)
    ids = {lang: question_ids(Path(files["xquad"]["test"].format(lang=lang))) for lang in rq.XQUAD_LANGS}
    assert len(ids) == 11
    assert all(chosen == ids["en"] for chosen in ids.values())
    assert len(ids["en"]) == info["xquad"]["test_questions_per_language"] == rq.SCALES["cpu"]["xquad_test_q"]


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
def test_every_phase_of_every_scale_is_a_valid_experiment(rq, tmp_path, scale):
    from xstilts.config import ExperimentConfig

    sizes, info = rq.SCALES[scale], {}
    data = rq.derive_data(tmp_path, sizes, info)
    models = ["xlm-roberta-large", "roberta-large"]
    for _, phase in rq.phases(sizes, models):
        config = ExperimentConfig.model_validate({**rq.base_config(models, data, sizes, tmp_path, "cuda"), **phase})
        assert set(config.models) == set(models) and config.seeds
        for target in config.targets:
            for template in config.data.get(target, {}).values():  # German is in all three targets
                assert Path(template.format(lang="de", lang3="deu")).exists(), template
