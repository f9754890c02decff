"""Damaged checkpoints and finished phases are detected, named and retrained; never resumed silently."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.config import TrainSettings
from xstilts.demo import build_tiny_model, corpus_texts, demo_config, write_fixtures
from xstilts.errors import XstiltsError
from xstilts.modeling.model import MultiTaskModel, load_encoder
from xstilts.training import checkpoints, loop
from xstilts.training.mlm import mlm_task

SETTINGS = TrainSettings(learning_rate=3e-3, batch_size=8, precision="no", save_every=3, max_length=64)
CHECKPOINT_FILES = ["model.safetensors", "optimizer.bin", "scheduler.pt", "trainer_state.json", "random_states_0.pkl"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("checkpoints")
    return write_fixtures(root / "data"), build_tiny_model(root / "tiny", corpus_texts(("en", "de", "es")),
                                                           hidden=32, layers=1, vocab_size=400)


def train(world, output_dir: Path, die_at_eval: int | None = None):
    """10 MLM steps (masking draws from the RNG: a lost random state changes the losses), checkpoints
    at steps 3, 6 and 9; die_at_eval=2 kills the run at step 8, leaving the step-6 checkpoint."""
    data, model_dir = world
    encoder, tokenizer = load_encoder(str(model_dir))
    torch.manual_seed(0)
    model = MultiTaskModel(encoder)
    model.add_head("mlm", "mlm")
    mlm = mlm_task([data / "mlm" / "multilingual.txt"], tokenizer, 64, 8)
    task = loop.TrainTask("mlm", "mlm", mlm.features.select(range(48)), 8, mlm.transform)
    evals = []

    def evaluate(m):
        evals.append(1)
        if len(evals) == die_at_eval:
            raise KeyboardInterrupt("simulated kill")
        return {"score": float(next(m.parameters()).detach().sum())}  # a function of the weights: the same in every run
    run = loop.TrainRun([task], ["mlm"] * 10, SETTINGS, output_dir, 5, tokenizer.pad_token_id, evaluate, eval_every=4)
    state = loop.train(model, run, loop.make_accelerator(SETTINGS, "cpu"))
    return state, model.state_dict()


@pytest.fixture(scope="module")
def straight(world, tmp_path_factory):
    return train(world, tmp_path_factory.mktemp("straight"))


@pytest.fixture(scope="module")
def interrupted(world, tmp_path_factory) -> Path:
    """A run killed at step 8: its step-6 checkpoint, copied by each test that damages it."""
    output_dir = tmp_path_factory.mktemp("interrupted")
    with pytest.raises(KeyboardInterrupt):
        train(world, output_dir, die_at_eval=2)
    return output_dir


def resumable(interrupted: Path, tmp_path: Path) -> Path:
    shutil.copytree(interrupted, tmp_path, dirs_exist_ok=True)
    return tmp_path / "checkpoint"


def truncate(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def test_intact_checkpoint_resumes_without_a_warning(world, straight, interrupted, tmp_path, caplog):
    resumable(interrupted, tmp_path)
    with caplog.at_level(logging.WARNING, logger="xstilts"):
        state, _ = train(world, tmp_path)
    assert caplog.text == ""
    assert state["losses"] == straight[0]["losses"] and len(state["evals"]) == 3


@pytest.mark.parametrize("name", CHECKPOINT_FILES)
def test_truncated_checkpoint_file_is_named_and_the_phase_restarts(name, world, straight, interrupted, tmp_path,
                                                                  caplog):
    truncate(resumable(interrupted, tmp_path) / name)
    with caplog.at_level(logging.WARNING, logger="xstilts"):
        state, weights = train(world, tmp_path)
    assert f"{tmp_path / 'checkpoint' / name} has" in caplog.text and "restarting this phase from step 0" in caplog.text
    expected_state, expected_weights = straight
    assert state["losses"] == expected_state["losses"]  # the restart equals an uninterrupted run
    assert all(torch.equal(weights[k], expected_weights[k]) for k in expected_weights)


def test_random_states_accelerate_cannot_load_are_an_error_not_a_silent_resume(world, interrupted, tmp_path):
    checkpoint = resumable(interrupted, tmp_path)
    truncate(checkpoint / "random_states_0.pkl")
    checkpoints.seal_checkpoint(checkpoint)  # the manifest agrees: only Accelerate notices
    with pytest.raises(XstiltsError, match="could not load its random states"):
        train(world, tmp_path)


def test_checkpoint_without_manifest_restarts(world, straight, interrupted, tmp_path, caplog):
    (resumable(interrupted, tmp_path) / checkpoints.MANIFEST).unlink()  # what an older xstilts left
    with caplog.at_level(logging.WARNING, logger="xstilts"):
        state, _ = train(world, tmp_path)
    assert "MANIFEST.json is missing" in caplog.text
    assert state["losses"] == straight[0]["losses"]


def test_finished_phase_with_a_damaged_file_is_trained_again(tmp_path, caplog):
    (tmp_path / "model.safetensors").write_bytes(b"w" * 1000)
    (tmp_path / "config.json").write_text("{}")
    assert not checkpoints.is_finished(tmp_path)
    checkpoints.mark_finished(tmp_path)
    assert checkpoints.is_finished(tmp_path)
    truncate(tmp_path / "model.safetensors")
    with caplog.at_level(logging.WARNING, logger="xstilts"):
        assert not checkpoints.is_finished(tmp_path)
    assert "model.safetensors has 500 bytes where 1000 were written" in caplog.text
    assert not (tmp_path / checkpoints.DONE).exists()
    (tmp_path / checkpoints.DONE).write_text("")  # an older xstilts' empty marker: trusted
    assert checkpoints.is_finished(tmp_path)


def test_truncated_finished_encoder_is_retrained_on_rerun(world, tmp_path, caplog):
    data, model = world
    tree = demo_config(data, [str(model)], tmp_path / "runs")
    tree.update(intermediate=[{"name": "squad", "tasks": ["squad_v1"]}], targets=["udpos"])
    for phase in ("intermediate_training", "target_training"):
        tree[phase]["max_steps"] = 2
    config = tmp_path / "config.json"
    config.write_text(json.dumps(tree))
    assert CliRunner().invoke(app, ["run", str(config)]).exit_code == 0
    encoder = next((tmp_path / "runs").glob("*/squad-*/seed1/intermediate/encoder"))
    truncate(encoder / "model.safetensors")
    tree["targets"] = ["udpos", "xquad"]  # a new cell needs the encoder again
    config.write_text(json.dumps(tree))
    with caplog.at_level(logging.WARNING, logger="xstilts"):
        result = CliRunner().invoke(app, ["run", str(config)])
    assert result.exit_code == 0, result.output
    assert f"finished phase {encoder} is damaged" in caplog.text
    assert checkpoints.is_finished(encoder)  # trained again and sealed


def test_disk_full_during_save_names_the_file_and_leaves_no_truncated_file(tmp_path, monkeypatch):
    def full_disk_save(obj, path, *args, **kwargs):
        Path(path).write_bytes(b"half")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . PytorchStreamWriter failed writing file")

    monkeypatch.setattr(checkpoints.torch, "save", full_disk_save)
    monkeypatch.setattr(checkpoints.shutil, "disk_usage", lambda path: SimpleNamespace(free=0))
    with pytest.raises(XstiltsError, match="best_model.pt: disk full while writing"):
        checkpoints.save_atomic({"w": 1}, tmp_path / "best_model.pt")
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(checkpoints.shutil, "disk_usage", lambda path: SimpleNamespace(free=1 << 40))
    with pytest.raises(RuntimeError, match="enforce fail"):  # not a full disk: an internal error keeps its traceback
        checkpoints.save_atomic({"w": 1}, tmp_path / "best_model.pt")
