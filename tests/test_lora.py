"""LoRA (peft) in either phase: only adapters and heads train, recorded in the cell key; the intermediate
adapter is merged into the encoder the target phase starts from."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForQuestionAnswering

from xstilts.config import load_config
from xstilts.demo import build_tiny_model, corpus_texts, demo_config, write_fixtures
from xstilts.errors import XstiltsError
from xstilts.experiments.export import export_cell
from xstilts.experiments.pipeline import Pipeline
from xstilts.modeling.model import load_encoder

LORA = {"rank": 4, "alpha": 8, "target_modules": ["query", "value"]}


def config_tree(root):
    data = write_fixtures(root / "data")
    model = build_tiny_model(root / "tiny", corpus_texts(("en",)), hidden=32, layers=1, vocab_size=400)
    tree = demo_config(data, [str(model)], root / "runs")
    tree["targets"], tree["intermediate"] = ["xquad"], [{"name": "squad", "tasks": ["squad_v1"]}]
    for phase in ("intermediate_training", "target_training"):
        tree[phase].update(max_steps=6, lora=LORA)
    return tree, model


def test_lora_in_both_phases(tmp_path):
    tree, base = config_tree(tmp_path)
    pipeline = Pipeline(load_config(base=tree))
    pipeline.run()
    cell = next(pipeline.cells())
    assert cell.config["target_training"]["lora"] == {**LORA, "alpha": 8.0, "dropout": 0.0}
    assert cell.phase.config["settings"]["lora"]["rank"] == 4
    full = Pipeline(load_config(base=tree, overrides=["target_training.lora=null"]))
    assert next(full.cells()).key != cell.key  # a recorded setting: another cell

    pretrained, _ = load_encoder(str(base))
    total = sum(p.numel() for p in pretrained.parameters())
    lora_params = 2 * 4 * 32 * 2  # (A: 32x4, B: 4x32) on query and value of the one layer
    for phase_dir in (cell.seed_dir / "intermediate", cell.finetune_dir):
        state = json.loads((phase_dir / "train_state.json").read_text())
        heads = state["trainable_parameters"] - lora_params
        assert 0 < heads < 200 and state["trainable_parameters"] < total / 50  # adapters + the small head only

    encoder, _ = load_encoder(str(cell.seed_dir / "intermediate" / "encoder"))  # merged: a plain encoder
    names = encoder.state_dict().keys()
    assert not any("lora" in name for name in names)
    attention = "encoder.layer.0.attention.self"
    before, after = pretrained.state_dict(), encoder.state_dict()
    assert not torch.equal(before[f"{attention}.query.weight"], after[f"{attention}.query.weight"])
    assert torch.equal(before[f"{attention}.key.weight"], after[f"{attention}.key.weight"])  # not a target module
    assert torch.equal(before["embeddings.word_embeddings.weight"], after["embeddings.word_embeddings.weight"])

    out = tmp_path / "export"
    export_cell(pipeline.config.output_dir, cell.key, out)  # the target's adapter merged into the exported model
    assert not any("lora" in n for n in AutoModelForQuestionAnswering.from_pretrained(out / "target").state_dict())


def test_lora_refuses_sparse_embedding_updates(tmp_path):
    tree, _ = config_tree(tmp_path)
    tree["target_training"]["embedding_optimizer"] = "sparse"
    with pytest.raises(XstiltsError, match="lora freezes the word embeddings"):
        load_config(base=tree)


def test_unknown_target_module_is_named(tmp_path):
    tree, _ = config_tree(tmp_path)
    tree["intermediate_training"]["lora"] = {"target_modules": ["q_proj"]}
    with pytest.raises(XstiltsError, match=r"lora.target_modules \['q_proj'\]"):
        Pipeline(load_config(base=tree)).run()
