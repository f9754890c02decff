"""`xstilts data fetch|check`: every fetchable task from local Hub mirrors through the real `datasets`
loading path, MANIFEST.json, resuming, the pre-run check of `xstilts run`, XTREME's processed layouts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import datasets
import pytest
import yaml
from typer.testing import CliRunner

from hub_mirror import build_mirror
from test_cli import assert_one_line_error
from xstilts.cli import app
from xstilts.config import load_config
from xstilts.data import fetch as fetch_module
from xstilts.data._io import LABELS_MISSING
from xstilts.data.check import check_tasks
from xstilts.data.manifest import read_manifest, write_manifest
from xstilts.demo import build_tiny_model, corpus_texts
from xstilts.experiments.pipeline import Pipeline
from xstilts.experiments.store import ResultsStore
from xstilts.tasks.registry import DOWNLOADS, TASKS, get_task

runner = CliRunner()
FETCHABLE = [name for name in TASKS if name != "ccg"]


@pytest.fixture(scope="module")
def world(shared_data, tmp_path_factory, monkeypatch_module):
    root = tmp_path_factory.mktemp("fetch")
    monkeypatch_module.setattr(datasets.config, "HF_DATASETS_CACHE", str(root / "hf-cache"))
    mirror = build_mirror(root / "mirror", shared_data)
    result = runner.invoke(app, ["data", "fetch", "--all", "--to", str(root / "data"), "--mirror", str(mirror)])
    assert result.exit_code == 0, result.output
    return root, mirror, root / "data", result.output


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_fetch_all_writes_every_task_with_manifest(world):
    root, _, data, output = world
    manifest = read_manifest(data)
    assert sorted(manifest["tasks"]) == sorted(FETCHABLE)
    for name in FETCHABLE:
        entry = manifest["tasks"][name]
        assert entry["complete"] and entry["layout"] == "xstilts"
        for relative, sha in entry["files"].items():
            assert len(sha) == 64 and (data / relative).is_file()
        # every evaluation language has labelled test data (retrieval: its corpora), counted per language
        split = "test" if "test" in get_task(name).sources else "dev"
        langs = get_task(name).languages if split == "test" else ("en",)
        assert all(entry["counts"][split][lang] > 0 for lang in langs), (name, entry["counts"])
    assert "hf://google/xtreme/udpos.German@main" in manifest["tasks"]["udpos"]["sources"]
    assert "hf://Rowan/hellaswag/default@refs/convert/parquet" in manifest["tasks"]["hellaswag"]["sources"]
    assert "ccg: not downloadable" in output and "ccg/ccg.train.tsv" in output
    # counts are what the readers read back from the written files
    assert manifest["tasks"]["tatoeba"]["counts"]["test"]["de"] == 20
    assert manifest["tasks"]["xnli"]["counts"]["test"] == {lang: 1 for lang in get_task("xnli").languages}


def test_check_passes_on_fetched_data_and_a_second_fetch_skips(world):
    root, mirror, data, _ = world
    reports = check_tasks(data, [(name, list(TASKS[name].languages), {}) for name in FETCHABLE])
    assert [p for r in reports for p in r.problems] == []
    result = runner.invoke(app, ["data", "fetch", "xquad", "--to", str(data), "--mirror", str(mirror)])
    assert result.exit_code == 0 and "xquad: already fetched, skipped" in result.output


def test_check_reports_missing_and_changed_counts(world, tmp_path):
    _, _, data, _ = world
    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    lines = (copy / "tatoeba/tatoeba.deu-eng.deu").read_text().splitlines()
    (copy / "tatoeba/tatoeba.deu-eng.deu").write_text("\n".join(lines[:-1]) + "\n")
    (copy / "tatoeba/tatoeba.deu-eng.eng").write_text("\n".join(lines[:-1]) + "\n")
    (copy / "panx/fr/test").unlink()
    result = runner.invoke(app, ["data", "check", str(copy)])
    message = " ".join(result.output.split())
    assert result.exit_code == 2
    assert "tatoeba.deu-eng.deu: 19 examples but MANIFEST.json records 20 (tatoeba test/de)" in message
    assert "task 'panx' test/fr: data file not found" in message
    assert "ccg/ccg.train.tsv" in message  # ccg is placed by hand


def test_interrupted_fetch_resumes_with_the_next_part(world, monkeypatch, tmp_path):
    _, mirror, _, _ = world
    calls, real = [], fetch_module._fetch_hub

    def interrupted_at_the_fifth(part, *args):
        calls.append(part.lang)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real(part, *args)

    monkeypatch.setattr(fetch_module, "_fetch_hub", interrupted_at_the_fifth)
    with pytest.raises(KeyboardInterrupt):
        fetch_module.fetch(["tatoeba"], tmp_path, mirror)
    assert len(read_manifest(tmp_path)["parts"]) == 4 and "tatoeba" not in read_manifest(tmp_path)["tasks"]
    monkeypatch.setattr(fetch_module, "_fetch_hub", lambda part, *args: calls.append(part.lang) or real(part, *args))
    calls.clear()
    fetch_module.fetch(["tatoeba"], tmp_path, mirror)
    assert len(calls) == len(TASKS["tatoeba"].languages) - 4  # the four finished parts were not fetched again
    assert read_manifest(tmp_path)["tasks"]["tatoeba"]["complete"]


def test_url_checksum_mismatch_is_refused(world, monkeypatch, tmp_path):
    _, mirror, _, _ = world
    source = DOWNLOADS["bucc2018"][0]
    url = source.url.format(lang="de")
    monkeypatch.setitem(source.sha256, url, "0" * 64)
    with pytest.raises(Exception, match="sha256 .* differs from the declared 0000"):
        fetch_module.fetch(["bucc2018"], tmp_path, mirror)


def grid_config(tmp_path, data: Path, model: Path, **changes) -> Path:
    tree = {"name": "fetched", "output_dir": str(tmp_path / "runs"), "data_dir": str(data), "models": [str(model)],
            "intermediate": [{"name": "baseline"}, {"name": "squad", "tasks": ["squad_v1"]}],
            "targets": ["xquad", "udpos", "tatoeba"], "seeds": [1],
            "languages": {"xquad": ["en", "de"], "udpos": ["en", "de"], "tatoeba": ["de", "fr"]},
            # QA windows must leave room for the stride beside long questions (the tiny tokenizer's pieces are short)
            "intermediate_training": {"max_steps": 2, "batch_size": 4, "max_length": 256},
            "target_training": {"max_steps": 2, "batch_size": 4, "max_length": 256},
            "retrieval": {"max_length": 32}, "feature_cache": False, **changes}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


@pytest.fixture(scope="module")
def tiny_model(world):
    root = world[0]
    return build_tiny_model(root / "tiny", corpus_texts(("en", "de", "es")), hidden=32, layers=1, vocab_size=400)


def test_tiny_grid_runs_on_fetched_data_and_keys_record_the_revision(world, tiny_model, tmp_path):
    _, _, data, _ = world
    config = grid_config(tmp_path, data, tiny_model)
    result = runner.invoke(app, ["grid", str(config)])
    assert result.exit_code == 0, result.output
    assert "grid: 6/6 cells done" in " ".join(result.output.split())
    cfg = load_config(config)
    pipeline = Pipeline(cfg)
    setting = cfg.intermediate[1]
    cell = lambda p, target: p.planner.cell(str(tiny_model), setting, 1, target)
    key = cell(pipeline, "xquad").key
    assert cell(pipeline, "xquad").config["data_provenance"]["squad_v1"]["sources"]
    # the same files fetched at another revision: the affected cells get new keys, the others keep theirs
    manifest = read_manifest(data)
    other = {origin.replace("@main", "@v2"): sha for origin, sha in manifest["tasks"]["xquad"]["sources"].items()}
    write_manifest(data, {**manifest, "tasks": {**manifest["tasks"], "xquad": {**manifest["tasks"]["xquad"], "sources": other}}})
    try:
        assert cell(Pipeline(cfg), "xquad").key != key  # a new Pipeline: plans are built once per Pipeline
        assert cell(Pipeline(cfg), "udpos").key == cell(pipeline, "udpos").key
    finally:
        write_manifest(data, manifest)


def stripped_copy(data: Path, tmp_path: Path, task_dirs) -> Path:
    copy = tmp_path / "stripped"
    for name in ("squad", "tatoeba", *task_dirs):
        shutil.copytree(data / name, copy / name)
    return copy


def test_stripped_xquad_stops_run_before_training(world, tiny_model, tmp_path):
    _, _, data, _ = world
    copy = stripped_copy(data, tmp_path, ["xquad"])
    path = copy / "xquad/xquad.de.json"
    doc = json.loads(path.read_text())
    for article in doc["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                qa["answers"] = {}  # what XTREME's download script leaves
    path.write_text(json.dumps(doc))
    config = grid_config(tmp_path, copy, tiny_model, targets=["xquad"])
    assert_one_line_error(runner.invoke(app, ["run", str(config)]), f"{path}: {LABELS_MISSING}")
    runs = tmp_path / "runs"  # the run's lock and an empty store: nothing trained, nothing stored
    assert {p.name for p in runs.iterdir()} == {"grid.lock", "results.db"} and not ResultsStore(runs / "results.db").rows()


def test_bucc_without_gold_stops_run_before_training(world, tiny_model, tmp_path):
    _, _, data, _ = world
    copy = stripped_copy(data, tmp_path, ["bucc2018"])
    (copy / "bucc2018/fr-en.test.gold").unlink()
    config = grid_config(tmp_path, copy, tiny_model, targets=["bucc2018"], intermediate=[{"name": "baseline"}])
    result = runner.invoke(app, ["grid", str(config)])
    assert_one_line_error(result, f"{copy / 'bucc2018/fr-en.test.fr'}: {LABELS_MISSING}")
    runs = tmp_path / "runs"  # the driver's lock and an empty store: nothing trained, nothing stored
    assert {p.name for p in runs.iterdir()} == {"grid.lock", "results.db"} and not ResultsStore(runs / "results.db").rows()


def test_data_check_names_stripped_xtreme_files(tmp_path):
    (tmp_path / "xnli").mkdir()
    (tmp_path / "xnli/test-de.tsv").write_text("Ein Satz .\tNoch ein Satz .\n")
    (tmp_path / "pawsx").mkdir()
    (tmp_path / "pawsx/test-de.tsv").write_text("Satz eins .\tSatz zwei .\n")
    (tmp_path / "panx").mkdir()
    (tmp_path / "panx/test-de.tsv").write_text("Berlin\nist\n\n")
    reports = {r.task: r for r in check_tasks(tmp_path, [(t, ["de"], {}) for t in ("xnli", "pawsx", "panx")])}
    for task in ("xnli", "pawsx"):
        assert f"{tmp_path / task / 'test-de.tsv'}:1: expected 3 tab-separated fields (text_a, text_b, label), " \
               f"got 2 ({LABELS_MISSING})" in reports[task].problems
    assert f"{tmp_path / 'panx/test-de.tsv'}: {LABELS_MISSING}" in reports["panx"].problems
    assert reports["panx"].layout == "xtreme" and reports["xnli"].layout == "xstilts"


def test_xtreme_processed_layouts_read_with_the_right_counts(tmp_path):
    """udpos/{split}-{lang}.tsv, panx/{split}-{lang}.tsv (token<TAB>tag) and tatoeba/{lang}-en.{lang|en}."""
    sentences = {"udpos": [("Das", "DET"), ("Haus", "NOUN")], "panx": [("Angela", "B-PER"), ("Merkel", "I-PER")]}
    for task, words in sentences.items():
        (tmp_path / task).mkdir()
        for split, lang, n in (("train", "en", 3), ("dev", "en", 2), ("test", "de", 4)):
            block = "".join(f"{w}\t{t}\n" for w, t in words) + "\n"
            (tmp_path / task / f"{split}-{lang}.tsv").write_text(block * n)
    (tmp_path / "tatoeba").mkdir()
    (tmp_path / "tatoeba/de-en.de").write_text("Hallo .\nDanke .\nJa .\n")
    (tmp_path / "tatoeba/de-en.en").write_text("Hello .\nThanks .\nYes .\n")
    reports = check_tasks(tmp_path, [(t, ["de"], {}) for t in ("udpos", "panx", "tatoeba")])
    assert {r.task: (r.layout, r.counts, r.problems) for r in reports} == {
        "udpos": ("xtreme", {"train": {"en": 3}, "dev": {"en": 2}, "test": {"de": 4}}, []),
        "panx": ("xtreme", {"train": {"en": 3}, "dev": {"en": 2}, "test": {"de": 4}}, []),
        "tatoeba": ("xtreme", {"test": {"de": 3}}, []),
    }
    assert get_task("udpos").read(tmp_path, "test", "de")[0].tags == ["DET", "NOUN"]


def test_tasks_files_prints_every_layout():
    result = runner.invoke(app, ["tasks", "--files"])
    assert result.exit_code == 0
    rows = {" ".join(line.strip("│ ").split()) for line in result.output.splitlines()}
    for row in ("udpos │ xtreme │ test │ udpos/test-{lang}.tsv", "tatoeba │ xtreme │ test │ tatoeba/{lang}-en.{lang}",
                "xquad │ xstilts │ test │ xquad/xquad.{lang}.json", "ccg │ xstilts │ train │ ccg/ccg.train.tsv"):
        assert row in rows, rows


def test_a_repo_missing_from_the_mirror_is_a_one_line_error(tmp_path):
    result = runner.invoke(app, ["data", "fetch", "squad_v1", "--to", str(tmp_path / "data"), "--mirror", str(tmp_path)])
    assert_one_line_error(result, "hf://rajpurkar/squad/plain_text@main: Couldn't find any data file")
    assert "squad_v1" not in read_manifest(tmp_path / "data")["tasks"]
