"""The three phases end to end on the demo fixtures, with a tiny randomly initialised encoder."""

from __future__ import annotations

from importlib import metadata

import pytest
import torch
from transformers import AutoModel

from xstilts.config import load_config
from xstilts.demo import build_tiny_model, corpus_texts, demo_config, write_fixtures
from xstilts.errors import XstiltsError
from xstilts.experiments.pipeline import Pipeline
from xstilts.modeling.model import MultiTaskModel, load_encoder
from xstilts.tasks.registry import get_task
from xstilts.training.loop import TrainRun, TrainTask, make_accelerator, train

TINY = dict(hidden=32, layers=1, vocab_size=600)
FAST = {"learning_rate": 2e-3, "batch_size": 8, "max_length": 96, "precision": "no", "save_every": 1000}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    write_fixtures(root / "data")
    model = build_tiny_model(root / "tiny", corpus_texts(("en", "de", "es")), **TINY)
    return root, model


@pytest.fixture(autouse=True)
def feature_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XSTILTS_CACHE", str(tmp_path / "cache"))


def make_pipeline(demo, tmp_path, **changes):
    root, model = demo
    tree = demo_config(root / "data", [str(model)], tmp_path / "runs")
    tree["intermediate_training"] = {**FAST, "max_steps": 12}
    tree["target_training"] = {**FAST, "max_steps": 12}
    tree["max_examples"] = {"train": 120, "dev": 24, "test": 24}
    tree.update(changes)
    return Pipeline(load_config(base=tree))


def test_phase2_starts_from_phase1_encoder_with_fresh_heads(demo, tmp_path):
    pipeline = make_pipeline(demo, tmp_path)
    setting = next(s for s in pipeline.config.intermediate if s.tasks)
    encoder_dir = pipeline.phases.intermediate_encoder(pipeline.planner.cell(pipeline.config.models[0], setting, 1, "xquad"))
    phase1 = torch.load(pipeline.config.output_dir.glob("*/squad-*/seed1/intermediate").__next__() / "best_model.pt")
    phase1_encoder = {k.removeprefix("encoder."): v for k, v in phase1.items() if k.startswith("encoder.")}

    encoder, _ = load_encoder(encoder_dir)
    loaded = encoder.state_dict()
    assert set(loaded) == set(phase1_encoder)
    assert all(torch.equal(loaded[k], phase1_encoder[k]) for k in loaded)
    # intermediate training really changed the encoder
    original = AutoModel.from_pretrained(demo[1]).state_dict()
    assert any(not torch.equal(original[k], loaded[k]) for k in loaded)

    # phase 2 builds a new head for the target; nothing of the phase-1 QA head carries over
    model = MultiTaskModel(encoder)
    model.add_head("xquad", "span_qa")
    assert set(model.heads) == {"xquad"}
    assert not torch.equal(model.heads["xquad"].out.weight, phase1["heads.squad_v1.out.weight"])


def tagging_task(pipeline, tokenizer, batch_size=8):
    spec = get_task("udpos")
    labels = pipeline.data.labels(spec)
    features = pipeline.data.features(spec, "train", "en", tokenizer, 96, labels)
    return spec, labels, TrainTask("udpos", "udpos", features, batch_size)


def tagging_model(pipeline, encoder_dir, labels):
    encoder, tokenizer = load_encoder(encoder_dir)
    torch.manual_seed(0)
    model = MultiTaskModel(encoder)
    model.add_head("udpos", "tagging", len(labels))
    return model, tokenizer


def test_training_loss_decreases_on_learnable_fixture(demo, tmp_path):
    pipeline = make_pipeline(demo, tmp_path)
    model, tokenizer = tagging_model(pipeline, demo[1], pipeline.data.labels(get_task("udpos")))
    _, _, task = tagging_task(pipeline, tokenizer)
    settings = pipeline.config.target_training.model_copy(update={"learning_rate": 3e-3})
    state = train(model, TrainRun([task], ["udpos"] * 60, settings, tmp_path / "t", 1, tokenizer.pad_token_id),
                  make_accelerator(settings, "cpu"))
    first, last = sum(state["losses"][:10]) / 10, sum(state["losses"][-10:]) / 10
    assert last < 0.5 * first, (first, last)


def test_resume_after_interruption_matches_uninterrupted_run(demo, tmp_path):
    pipeline = make_pipeline(demo, tmp_path)
    spec = get_task("udpos")
    settings = pipeline.config.target_training.model_copy(update={"save_every": 6, "learning_rate": 3e-3})

    def run(output_dir, interrupt_at_eval=None):
        model, tokenizer = tagging_model(pipeline, demo[1], pipeline.data.labels(spec))
        _, labels, task = tagging_task(pipeline, tokenizer)
        scorer = pipeline.phases.dev_scorer([spec], tokenizer, {"udpos": settings}, {"udpos": labels})
        calls = []

        def evaluate(m):
            calls.append(1)
            if len(calls) == interrupt_at_eval:
                raise KeyboardInterrupt("simulated kill")
            return scorer(m)
        state = train(model, TrainRun([task], ["udpos"] * 16, settings, output_dir, 7, tokenizer.pad_token_id,
                                      evaluate, eval_every=4), make_accelerator(settings, "cpu"))
        return state, model.state_dict()

    expected_state, expected_weights = run(tmp_path / "straight")
    with pytest.raises(KeyboardInterrupt):  # dies at the eval of step 8; last checkpoint is step 6
        run(tmp_path / "resumed", interrupt_at_eval=2)
    assert (tmp_path / "resumed" / "checkpoint" / "trainer_state.json").exists()
    resumed_state, resumed_weights = run(tmp_path / "resumed")

    assert resumed_state["losses"] == expected_state["losses"]
    assert resumed_state["evals"] == expected_state["evals"]
    assert all(torch.equal(resumed_weights[k], expected_weights[k]) for k in expected_weights)


def test_pipeline_runs_all_phases_and_stores_every_language(demo, tmp_path):
    pipeline = make_pipeline(demo, tmp_path)
    store = pipeline.run()
    rows = store.rows()
    seen = {(r["intermediate"], r["target"], r["language"]) for r in rows}
    for setting in ("baseline", "squad"):
        for target, langs in pipeline.config.languages.items():
            assert {(setting, target, lang) for lang in langs} <= seen
    assert {r["metric"] for r in rows if r["target"] == "xquad"} == {"exact_match", "f1"}
    key = {r["target"]: r["cell_key"] for r in rows if r["intermediate"] == "squad"}
    saved = store.cell_config(key["xquad"])
    assert saved["versions"]["torch"] == metadata.version("torch")
    assert saved["config"]["target_training"]["max_length"] == 96
    # retrieval trains nothing: its cell records the retrieval settings and no training fields
    retrieval = store.cell_config(key["tatoeba"])["config"]
    assert "target_training" not in retrieval and retrieval["retrieval"]["pooling"] == "mean"
    # the English dev scores of both phases' selected models are stored with the cell
    dev = {(r["phase"], r["task"], r["metric"]) for r in store.dev_rows([key["xquad"]])}
    assert {("intermediate", "squad_v1", "f1"), ("target", "xquad", "exact_match"), ("target", "xquad", "f1")} <= dev
    assert not store.dev_rows([key["tatoeba"]]) or {r["phase"] for r in store.dev_rows([key["tatoeba"]])} == {"intermediate"}
    # a second run finds every cell done and trains nothing
    before = len(rows)
    assert len(make_pipeline(demo, tmp_path).run().rows()) == before
    # a new target learning rate re-runs the fine-tuned targets only, not retrieval
    changed = make_pipeline(demo, tmp_path, target_training={**FAST, "max_steps": 12, "learning_rate": 1e-3})
    new_keys = {c.spec.name: c.key for c in changed.cells() if c.setting.name == "squad"}
    assert new_keys["tatoeba"] == key["tatoeba"] and new_keys["xquad"] != key["xquad"]


def test_a_data_file_edited_in_place_reruns_its_cells_and_an_identical_rewrite_does_not(demo, tmp_path):
    import shutil

    from typer.testing import CliRunner

    from xstilts.cli import app

    root, _ = demo
    data = shutil.copytree(root / "data", tmp_path / "data")
    pipeline = lambda: make_pipeline(demo, tmp_path, data_dir=str(data), intermediate=[{"name": "baseline"}],
                                     targets=["udpos"])
    keys = lambda rows: {r["cell_key"] for r in rows}
    first = keys(pipeline().run().rows())
    [(test_file, _)] = get_task("udpos").files(data, "test", "de")
    text = test_file.read_text(encoding="utf-8")
    test_file.write_text(text, encoding="utf-8")  # same bytes, new mtime: nothing to redo
    assert keys(pipeline().run().rows()) == first
    test_file.write_text(text.replace("\tNOUN\t", "\tPROPN\t", 1), encoding="utf-8")
    edited = pipeline()
    store = edited.run()
    second = keys(store.rows())
    assert len(second - first) == 1  # the edited test set is a new cell; the old row is kept beside it

    # Tables and reports show one cell per (model, setting, target, seed): the newer run, never a mix.
    assert keys(store.rows(latest=True)) == keys(edited.current_rows()) == second - first
    assert store.superseded() == 1
    db = str(tmp_path / "runs" / "results.db")
    shown = " ".join(CliRunner().invoke(app, ["results", db]).output.split())
    [old], [new] = first, second - first
    assert "1 cell(s) superseded" in shown and new in shown and old not in shown
    assert all(k in CliRunner().invoke(app, ["results", db, "--all"]).output for k in second)

    # Back to the original bytes: the first cell is found again, and the run's own tables show it.
    test_file.write_text(text, encoding="utf-8")
    reverted = pipeline()
    reverted.run()
    assert keys(reverted.store.rows()) == second
    assert keys(reverted.current_rows()) == first


def test_a_missing_mlm_file_is_named_before_anything_trains(demo, tmp_path):
    from xstilts.errors import XstiltsError

    pipeline = make_pipeline(demo, tmp_path, intermediate=[{"name": "mix", "tasks": ["squad_v1"], "mlm_files": ["mlm/nope.txt"]}])
    with pytest.raises(XstiltsError, match=r"'mix'.*mlm/nope.txt"):
        pipeline.run()
    assert not pipeline.store.rows()


def test_retrieval_layer_is_set_per_model_checked_and_recorded(demo, tmp_path):
    model = str(demo[1])  # one layer: hidden-state indices 0 (embeddings) and 1
    pipeline = make_pipeline(demo, tmp_path, intermediate=[{"name": "baseline"}], targets=["tatoeba"],
                             retrieval={"layer": -1, "layers": {model: 0}})
    rows = pipeline.run().rows()
    assert {r["value"] for r in rows if r["metric"] == "layer"} == {0.0}  # with every language's result
    assert {r["metric"] for r in rows} == {"accuracy", "accuracy_xx_to_en", "layer"}
    assert pipeline.store.cell_config(rows[0]["cell_key"])["config"]["retrieval"]["layers"] == {model: 0}
    last = make_pipeline(demo, tmp_path / "last", intermediate=[{"name": "baseline"}], targets=["tatoeba"])
    assert {r["value"] for r in last.run().rows() if r["metric"] == "layer"} == {1.0}  # -1 resolved
    too_deep = make_pipeline(demo, tmp_path / "deep", intermediate=[{"name": "baseline"}], targets=["tatoeba"],
                             retrieval={"layers": {model: 2}})
    with pytest.raises(XstiltsError, match=r"^retrieval.layers\[.*\] = 2 is out of range for .* with 1 layers "
                                           r"\(hidden-state indices -2..1\)$"):
        too_deep.run()
    with pytest.raises(XstiltsError, match=r"retrieval.layers names \['other-model'\], which are not in models"):
        make_pipeline(demo, tmp_path, retrieval={"layers": {"other-model": 3}})


def test_tagging_label_subtoken_option_is_in_the_cell_and_feature_keys(demo, tmp_path):
    xtreme = make_pipeline(demo, tmp_path, targets=["udpos", "tatoeba"])
    fixed = make_pipeline(demo, tmp_path, targets=["udpos", "tatoeba"],
                          task_options={"udpos": {"label_subtoken": "first_with_characters"}})
    model, setting = xtreme.config.models[0], xtreme.config.intermediate[0]
    cell = lambda pipeline, target: pipeline.planner.cell(model, setting, 1, target)
    assert cell(fixed, "udpos").config["options"]["label_subtoken"] == "first_with_characters"
    assert cell(xtreme, "udpos").key != cell(fixed, "udpos").key
    assert cell(xtreme, "udpos").finetune_key != cell(fixed, "udpos").finetune_key
    assert cell(xtreme, "tatoeba").key == cell(fixed, "tatoeba").key
    _, tokenizer = load_encoder(model)
    spec = get_task("udpos")
    for pipeline in (xtreme, fixed):
        pipeline.data.features(pipeline.planner.spec("udpos"), "dev", "en", tokenizer, 96, list(spec.labels))
    assert len(list((tmp_path / "cache" / "features").iterdir())) == 2  # one cached feature set per choice
