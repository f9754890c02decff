"""Memory settings: gradient checkpointing, per-device passes with accumulation, precision choice."""

from __future__ import annotations

import pytest
import torch
from datasets import Dataset
from torch import nn
from transformers import BertConfig, BertModel

from xstilts.config import TrainSettings
from xstilts.modeling.model import MultiTaskModel
from xstilts.training import memory
from xstilts.training import precision
from xstilts.training.loop import TrainRun, TrainTask, make_accelerator, train

SETTINGS = TrainSettings(batch_size=8, precision="no", save_every=1000)


def tiny_model(dropout: float) -> MultiTaskModel:
    torch.manual_seed(0)
    encoder = BertModel(BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                   intermediate_size=64, hidden_dropout_prob=dropout,
                                   attention_probs_dropout_prob=dropout))
    model = MultiTaskModel(encoder)
    model.add_head("cls", "classification", 3)
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = dropout
    return model


def features() -> Dataset:
    generator = torch.Generator().manual_seed(1)
    lengths = torch.randint(4, 20, (40,), generator=generator).tolist()
    ids = [torch.randint(5, 100, (n,), generator=generator).tolist() for n in lengths]
    return Dataset.from_dict({"input_ids": ids, "attention_mask": [[1] * n for n in lengths],
                              "labels": torch.randint(0, 3, (40,), generator=generator).tolist()})


def run(tmp_path, name: str, dropout: float = 0.1, **changes) -> tuple[dict, MultiTaskModel]:
    settings = SETTINGS.model_copy(update=changes)
    model = tiny_model(dropout)
    task = TrainTask("t", "cls", features(), settings.batch_size)
    run = TrainRun([task], ["t"] * 10, settings.model_copy(update={"learning_rate": 1e-3}), tmp_path / name, 3, 0)
    state = train(model, run, make_accelerator(settings, "cpu"))
    return state, model


def checkpointing(encoder) -> bool:
    # transformers 5.2x renamed is_gradient_checkpointing
    new = hasattr(type(encoder), "is_activation_checkpointing")
    return encoder.is_activation_checkpointing if new else encoder.is_gradient_checkpointing


def assert_same_training(a, b, tolerance: float) -> None:
    (state_a, model_a), (state_b, model_b) = a, b
    assert state_a["losses"] == pytest.approx(state_b["losses"], abs=tolerance)
    weights_b = model_b.state_dict()
    assert all(torch.allclose(weight, weights_b[k], atol=tolerance) for k, weight in model_a.state_dict().items())


def test_gradient_checkpointing_gives_the_same_losses_and_weights(tmp_path):
    plain = run(tmp_path, "plain")
    checkpointed = run(tmp_path, "checkpointed", gradient_checkpointing=True)  # dropout replays the same masks
    assert checkpointing(checkpointed[1].encoder) and not checkpointing(plain[1].encoder)
    assert_same_training(plain, checkpointed, 1e-5)
    assert len(set(plain[0]["losses"])) > 1  # it trained


def test_per_device_passes_accumulate_to_the_whole_batch_and_are_recorded(tmp_path):
    whole = run(tmp_path, "whole", dropout=0.0)
    passes = run(tmp_path, "passes", dropout=0.0, per_device_batch_size=3)  # 8 rows as 3 + 2 + 3
    assert_same_training(whole, passes, 1e-5)
    assert whole[0]["batches"] == {"t": {"effective_batch_size": 8, "processes": 1, "per_device_batch_size": 8,
                                         "accumulation_steps": 1}}
    assert passes[0]["batches"] == {"t": {"effective_batch_size": 8, "processes": 1, "per_device_batch_size": 3,
                                          "accumulation_steps": 3}}
    accumulated = run(tmp_path, "accumulated", dropout=0.0, per_device_batch_size=4, grad_accum=2)
    assert accumulated[0]["batches"]["t"] == {"effective_batch_size": 16, "processes": 1, "per_device_batch_size": 4,
                                              "accumulation_steps": 4}
    assert memory.batch_record(32, SETTINGS.model_copy(update={"per_device_batch_size": 6}), 4) == {
        "effective_batch_size": 32, "processes": 4, "per_device_batch_size": 4, "accumulation_steps": 2}


@pytest.mark.parametrize(("bf16", "expected"), [(True, "bf16"), (False, "fp16")])
def test_auto_precision_falls_back_to_fp16_on_gpus_without_bf16(monkeypatch, bf16, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: bf16)
    assert precision.auto_precision(None) == expected
