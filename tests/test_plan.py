"""`xstilts plan`: cells, steps and tokens from the real data, hours and peak memory from the throughput table."""

from __future__ import annotations

import json

import pytest
from rich.console import Console
from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.config import load_config
from xstilts.demo import build_tiny_model, corpus_texts, demo_config, write_fixtures
from xstilts.experiments import plan as planning
from xstilts.experiments.pipeline import Pipeline

TRAINING = {"learning_rate": 1e-3, "batch_size": 16, "epochs": 1, "max_length": 96, "precision": "no", "save_every": 1000}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("plan")
    data = write_fixtures(root / "data")
    model = build_tiny_model(root / "tiny", corpus_texts(("en", "de", "es")), hidden=32, layers=1, vocab_size=600)
    return root, data, model


@pytest.fixture(autouse=True)
def feature_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XSTILTS_CACHE", str(tmp_path / "cache"))


def demo(world, tmp_path, **changes):
    root, data, model = world
    tree = demo_config(data, [str(model)], tmp_path / "runs")
    tree.update(targets=["xquad", "tatoeba"], intermediate_training=TRAINING, target_training=TRAINING,
                max_examples={"train": 100, "dev": 16, "test": 16}, **changes)
    return load_config(base=tree)


def test_plan_counts_the_steps_a_run_takes_and_then_the_cells_it_finished(world, tmp_path):
    config = demo(world, tmp_path)
    phases, cells = planning.plan(config, "cpu")
    assert cells == {"cells": 4, "done": 0}
    by_label = {p.label: p for p in phases}
    assert set(by_label) == {"1: squad", "2: xquad", "eval: xquad", "eval: tatoeba"}
    assert by_label["2: xquad"].runs == 2 and by_label["1: squad"].runs == 1  # baseline and squad fine-tune XQuAD
    assert all(by_label[k].data == "data" for k in ("1: squad", "2: xquad"))  # features of the real files

    Pipeline(config, Console(quiet=True)).run()
    states = {path.parent.name: json.loads(path.read_text()) for path in (tmp_path / "runs").rglob("train_state.json")}
    assert len(states["intermediate"]["losses"]) == by_label["1: squad"].steps
    assert {len(s["losses"]) for name, s in states.items() if name.startswith("finetune")} == {by_label["2: xquad"].steps}

    result = CliRunner().invoke(app, ["plan", str(write(config, tmp_path)), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "cells: 4 in the grid, 4 done, 0 to run" in result.output


def write(config, tmp_path):
    path = tmp_path / "config.json"
    path.write_text(config.model_dump_json())
    return path


def test_without_data_or_model_files_the_plan_uses_official_sizes_and_flags_memory(tmp_path):
    tree = {"models": ["xlm-roberta-large"], "targets": ["xnli", "xquad", "mlqa"], "data_dir": str(tmp_path / "absent"),
            "output_dir": str(tmp_path / "runs"), "intermediate": [{"name": "baseline"}, {"name": "mnli", "tasks": ["mnli"]}],
            "intermediate_training": {"batch_size": 32, "epochs": 2, "max_length": 256},
            "target_training": {"batch_size": 512, "epochs": 1, "max_length": 512}}
    phases, _ = planning.plan(load_config(base=tree), "h100")
    by_label = {p.label: p for p in phases}
    mnli = by_label["1: mnli"]
    assert (mnli.examples, mnli.steps) == (392_702, 2 * -(-392_702 // 32))
    assert mnli.tokens == mnli.steps * 32 * 256 and mnli.data == "official size, max-length bound"
    assert by_label["2: xquad + mlqa"].runs == 2  # one shared SQuAD fine-tune per setting, not one per target
    xnli = by_label["2: xnli"]
    assert xnli.peak_gib > planning.DEVICE_MEMORY_GIB["h100"]  # 512 x 512 tokens of XLM-R large at once

    per_device = load_config(base=tree, overrides=["target_training.per_device_batch_size=32"])
    checkpointed = load_config(base=tree, overrides=["target_training.gradient_checkpointing=true"])
    for fixed in (per_device, checkpointed):
        peak = {p.label: p for p in planning.plan(fixed, "h100")[0]}["2: xnli"].peak_gib
        assert peak < planning.DEVICE_MEMORY_GIB["h100"]

    console = Console(record=True, width=250)
    planning.print_plan(load_config(base=tree), console, "h100")
    text = console.export_text()
    assert "warning: 2: xnli needs about" in text and "cells: 6 in the grid, 0 done, 6 to run" in text


def test_throughput_is_measured_for_a_table_row_and_extrapolated_otherwise():
    row = planning.THROUGHPUT[0]
    speed, kind = planning.tokens_per_second(row.layers, row.hidden, row.length, row.device)
    assert (speed, kind) == (row.tokens_per_s, "measured")
    bigger, kind = planning.tokens_per_second(2 * row.layers, row.hidden, row.length, row.device)
    assert kind.startswith("extrapolated") and bigger < speed
    assert planning.tokens_per_second(24, 1024, 512, "no-such-device")[0] is None


def test_an_unknown_device_kind_is_one_line_with_exit_code_2(world, tmp_path):
    result = CliRunner().invoke(app, ["plan", str(write(demo(world, tmp_path), tmp_path)), "--device", "tpu"])
    assert result.exit_code == 2
    assert "unknown device kind 'tpu'" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(("name", "kind"), [("NVIDIA H100 80GB HBM3", "h100"), ("NVIDIA H200", "h200"),
                                            ("NVIDIA A100-SXM4-40GB", "gpu")])
def test_the_device_kind_comes_from_the_gpu_name(monkeypatch, name, kind):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *_: name)
    assert planning.this_device() == kind  # another GPU plans without a throughput row, not with an error
