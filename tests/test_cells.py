"""Cell planning: what a cell's key depends on, how a phase's settings resolve, and task options."""

from __future__ import annotations

import pytest

from xstilts.config import TrainSettings, load_config
from xstilts.demo import demo_config, write_fixtures
from xstilts.errors import XstiltsError
from xstilts.experiments.cells import Planner, phase_settings
from xstilts.experiments.task_data import TaskData


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("cells")
    write_fixtures(root / "data")
    return root


def planner(data_root, **changes) -> Planner:
    tree = demo_config(data_root / "data", ["some/model"], data_root / "runs")
    tree.update(changes)
    config = load_config(base=tree)
    return Planner(config, TaskData(config))


def keys(p: Planner) -> dict:
    return {(s.name, t): p.cell("some/model", s, 1, t).key for s in p.config.intermediate for t in p.config.targets}


def test_a_cell_key_changes_only_with_what_the_cell_depends_on(data_root):
    base = keys(planner(data_root))
    lr = keys(planner(data_root, target_training={"learning_rate": 1e-4}))
    changed = {k for k in base if base[k] != lr[k]}
    assert changed == {(s, t) for s, t in base if t != "tatoeba"}  # retrieval trains nothing
    inter = keys(planner(data_root, intermediate_training={"learning_rate": 1e-4}))
    assert {k for k in base if base[k] != inter[k]} == {k for k in base if k[0] != "baseline"}


def test_a_multi_task_phase_has_one_explicit_setting():
    squad = TrainSettings(learning_rate=3e-5, epochs=2, batch_size=32, max_length=384)
    swag = TrainSettings(learning_rate=1e-5, epochs=3, batch_size=16, max_length=256)
    assert phase_settings({"squad_v1": squad}, TrainSettings()) is squad
    mixed = phase_settings({"squad_v1": squad, "hellaswag": swag}, TrainSettings(precision="no"))
    assert (mixed.learning_rate, mixed.epochs, mixed.precision) == (1e-5, 3, "no")  # smallest lr, most epochs
    chosen = phase_settings({"squad_v1": squad, "hellaswag": swag}, TrainSettings(learning_rate=2e-5))
    assert chosen.learning_rate == 2e-5 and chosen.epochs == 3  # what the config sets wins


def test_the_phase_plan_records_each_task_and_the_phase_settings(data_root):
    p = planner(data_root, intermediate=[{"name": "mix", "tasks": ["squad_v1"], "mlm_files": ["mlm/multilingual.txt"]}],
                intermediate_training={"learning_rate": 5e-4})
    phase = p.phase(p.config.intermediate[0])
    assert set(phase.task_settings) == {"squad_v1", "mlm"}
    assert phase.config["settings"]["learning_rate"] == 5e-4
    # each task keeps its own length: MLM its default, SQuAD the registry's
    assert phase.task_settings["mlm"].max_length == 128 and phase.task_settings["squad_v1"].max_length == 384


def test_task_options_reach_the_spec_and_the_key_and_unknown_ones_are_named(data_root):
    base = planner(data_root).cell("some/model", planner(data_root).config.intermediate[0], 1, "xquad")
    p = planner(data_root, task_options={"xquad": {"doc_stride": 64}})
    cell = p.cell("some/model", p.config.intermediate[0], 1, "xquad")
    assert cell.spec.options["doc_stride"] == 64 and cell.key != base.key and cell.finetune_key != base.finetune_key
    bad = planner(data_root, task_options={"xquad": {"doc_strid": 64}})
    with pytest.raises(XstiltsError, match=r"task_options.xquad: unknown option\(s\) doc_strid; xquad takes: doc_stride"):
        bad.cell("some/model", bad.config.intermediate[0], 1, "xquad")


def test_task_options_of_an_intermediate_task_key_its_phase(data_root):
    setting = {"name": "squad", "tasks": ["squad_v1"]}
    default = planner(data_root, intermediate=[setting])
    stride = planner(data_root, intermediate=[setting], task_options={"squad_v1": {"doc_stride": 32}})
    phases = [p.phase(p.config.intermediate[0]) for p in (default, stride)]
    assert phases[1].config["options"]["squad_v1"]["doc_stride"] == 32 and phases[0].key != phases[1].key
    assert phases[1].specs[0].options["doc_stride"] == 32  # what phase 1 featurizes with


def test_an_option_value_outside_its_choices_fails_at_planning(data_root):
    p = planner(data_root, task_options={"udpos": {"label_subtoken": "last"}})
    with pytest.raises(XstiltsError, match=r"task_options.udpos.label_subtoken: unknown choice 'last'; "
                                           r"valid choices: first_subtoken, first_with_characters"):
        p.cell("some/model", p.config.intermediate[0], 1, "udpos")
