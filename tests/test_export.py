"""`xstilts export`: HF folders with a model card that load offline and reproduce the trained model."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner
from transformers import AutoModel, AutoModelForQuestionAnswering, AutoModelForTokenClassification, AutoTokenizer

from xstilts.cli import app
from xstilts.config import load_config
from xstilts.demo import build_tiny_model, corpus_texts, demo_config, write_fixtures
from xstilts.experiments import export
from xstilts.experiments.pipeline import Pipeline
from xstilts.modeling.model import MultiTaskModel, load_encoder
from xstilts.training.loop import BEST_WEIGHTS, load_weights

runner = CliRunner()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    data = write_fixtures(root / "data")
    model = build_tiny_model(root / "tiny", corpus_texts(("en", "de")), hidden=32, layers=1, vocab_size=400)
    tree = demo_config(data, [str(model)], root / "runs")
    tree["targets"], tree["intermediate"] = ["xquad", "udpos"], [{"name": "squad", "tasks": ["squad_v1"]}]
    for phase in ("intermediate_training", "target_training"):
        tree[phase]["max_steps"] = 6
    pipeline = Pipeline(load_config(base=tree))
    pipeline.run()
    return pipeline, {cell.spec.name: cell for cell in pipeline.cells()}


def export_via_cli(pipeline, cell, to, *extra):
    result = runner.invoke(app, ["export", str(pipeline.config.output_dir), cell.key[:8], "--to", str(to), *extra])
    assert result.exit_code == 0, result.output
    return result


def test_intermediate_encoder_loads_offline_with_its_card(run, tmp_path, monkeypatch):
    pipeline, cells = run
    cell = cells["xquad"]
    export_via_cli(pipeline, cell, tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    loaded = AutoModel.from_pretrained(tmp_path / "intermediate")
    trained, _ = load_encoder(str(cell.seed_dir / "intermediate" / "encoder"))
    for name, value in trained.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], value), name
    assert AutoTokenizer.from_pretrained(tmp_path / "intermediate").is_fast
    card = (tmp_path / "intermediate" / "README.md").read_text()
    assert card.startswith("---\n") and "library_name: transformers" in card and "- squad_v1" in card
    assert f"cell `{cell.key}`" in card and "intermediate task(s): squad_v1" in card and '"learning_rate"' in card
    for row in pipeline.store.rows(cell_keys=[cell.key]):
        if row["metric"] == "f1":
            assert f"| {row['language']} | " in card and f"{row['value']:.2f}" in card
    assert "| target | xquad |" in card and "| intermediate | squad_v1 |" in card


@pytest.mark.parametrize("target, auto", [("xquad", AutoModelForQuestionAnswering), ("udpos", AutoModelForTokenClassification)])
def test_target_model_is_the_matching_auto_class(run, tmp_path, target, auto):
    pipeline, cells = run
    cell = cells[target]
    export.export_cell(pipeline.config.output_dir, cell.key, tmp_path)
    hf = auto.from_pretrained(tmp_path / "target").eval()
    encoder, tokenizer = load_encoder(str(cell.seed_dir / "intermediate" / "encoder"))
    ours = MultiTaskModel(encoder)
    head_rows = torch.load(cell.finetune_dir / BEST_WEIGHTS)[f"heads.{cell.spec.head_name}.out.weight"].shape[0]
    ours.add_head(cell.spec.head_name, "span_qa" if target == "xquad" else "tagging", head_rows)
    load_weights(ours, cell.finetune_dir / BEST_WEIGHTS)
    ours.eval()
    batch = tokenizer(["Wo liegt Berlin?"], ["Berlin liegt in Deutschland."], return_tensors="pt")
    with torch.no_grad():
        _, expected = ours(cell.spec.head_name, **batch)
        out = hf(**batch)
    got = torch.stack([out.start_logits, out.end_logits], -1) if target == "xquad" else out.logits
    torch.testing.assert_close(got, expected)
    if target == "udpos":
        assert set(hf.config.id2label.values()) == set(pipeline.data.labels(cell.spec))


def test_push_to_hub_uploads_each_folder(run, tmp_path, monkeypatch):
    pipeline, cells = run
    calls = []
    monkeypatch.setattr("huggingface_hub.HfApi.create_repo", lambda self, repo, exist_ok: calls.append(("create", repo)))
    monkeypatch.setattr("huggingface_hub.HfApi.upload_folder",
                        lambda self, folder_path, repo_id, commit_message: calls.append(("upload", repo_id, folder_path)) or "url")
    export_via_cli(pipeline, cells["xquad"], tmp_path, "--push-to-hub", "me/xquad-squad")
    assert calls == [("create", "me/xquad-squad-intermediate"), ("upload", "me/xquad-squad-intermediate", str(tmp_path / "intermediate")),
                     ("create", "me/xquad-squad-target"), ("upload", "me/xquad-squad-target", str(tmp_path / "target"))]


def test_unknown_cell_is_one_line(run, tmp_path):
    pipeline, _ = run
    result = runner.invoke(app, ["export", str(pipeline.config.output_dir), "zzzz", "--to", str(tmp_path)])
    assert result.exit_code == 2 and "no finished cell with a key starting 'zzzz'" in result.output
