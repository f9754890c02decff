"""User errors end in one line that names the file/line or the valid choices."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.demo import build_tiny_model, corpus_texts, demo_config, write_fixtures

runner = CliRunner()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    write_fixtures(root / "data")
    return root, build_tiny_model(root / "tiny", corpus_texts(("en",)), hidden=32, layers=1, vocab_size=400)


def run_config(tmp_path, tree):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(tree))
    return runner.invoke(app, ["run", str(path)])


def assert_one_line_error(result, *fragments):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    message = " ".join(result.output.split())  # rich may wrap long lines
    for fragment in fragments:
        assert fragment in message, message


def test_unknown_task_lists_valid_choices(demo, tmp_path):
    root, model = demo
    tree = demo_config(root / "data", [str(model)], tmp_path / "runs")
    tree["targets"] = ["xquadd"]
    assert_one_line_error(run_config(tmp_path, tree), "unknown task 'xquadd'", "valid choices:", "xquad", "tatoeba")


def test_unknown_model_is_named(demo, tmp_path):
    root, _ = demo
    tree = demo_config(root / "data", ["/nonexistent/encoder"], tmp_path / "runs")
    assert_one_line_error(run_config(tmp_path, tree), "cannot load model '/nonexistent/encoder'")


def test_malformed_data_file_names_file_and_line(demo, tmp_path):
    root, model = demo
    data = tmp_path / "data"
    write_fixtures(data)
    treebank = data / "ud/UD_English-Demo/en_demo-ud-train.conllu"
    lines = treebank.read_text().splitlines()
    lines[4] = "3\tbroken-line-with-too-few-columns"
    treebank.write_text("\n".join(lines) + "\n")
    tree = demo_config(data, [str(model)], tmp_path / "runs")
    tree["targets"], tree["intermediate"] = ["udpos"], [{"name": "baseline"}]
    assert_one_line_error(run_config(tmp_path, tree), "en_demo-ud-train.conllu:5")


def test_bad_config_field_is_named(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("models: [m]\ntargets: [xquad]\nseeds: one\n")
    assert_one_line_error(runner.invoke(app, ["run", str(path)]), "bad.yaml", "seeds")


def test_tasks_lists_the_registry():
    result = runner.invoke(app, ["tasks"])
    assert result.exit_code == 0
    for name in ("anli_plus", "squad_v2", "ccg", "xnli", "panx", "bucc2018", "tatoeba"):
        assert name in result.output
