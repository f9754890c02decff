"""Every bad input ends in one line naming the file (and line or field), exit 2, nothing stored.

PROBES is a table: a new reader, field or command gets its bad-input cases by adding rows.
`python scripts/bad_input_probes.py` runs the same table and prints it as Markdown.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.demo import build_tiny_model, corpus_texts, demo_config, write_fixtures

runner = CliRunner()


@dataclass
class World:
    """One probe's sandbox: a fresh copy of the demo data, a tiny model, and room for a run."""

    master: Path
    model: Path
    tmp: Path
    held: list = field(default_factory=list)  # open lock files, closed after the probe

    @property
    def data(self) -> Path:
        if not (self.tmp / "data").exists():
            shutil.copytree(self.master, self.tmp / "data")
        return self.tmp / "data"

    @property
    def out(self) -> Path:
        return self.tmp / "runs"

    def write(self, name: str, content: str | bytes) -> Path:
        path = self.data / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    def run(self, **changes) -> list[str]:
        """`xstilts run` on the demo config (UD POS from the baseline, 2 steps) with `changes`."""
        tree = demo_config(self.data, [str(self.model)], self.out)
        tree.update(targets=["udpos"], intermediate=[{"name": "baseline"}])
        tree["target_training"]["max_steps"] = 2
        tree.update(changes)
        path = self.tmp / "config.json"
        path.write_text(json.dumps(tree))
        return ["run", str(path)]

    def cells(self) -> int | None:
        db = self.out / "results.db"
        if not db.is_file():
            return None
        try:
            with sqlite3.connect(db) as conn:
                return conn.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
        except sqlite3.DatabaseError:
            return None


def hold_lock(w: World) -> None:
    w.out.mkdir(parents=True)
    handle = open(w.out / "grid.lock", "w")
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    w.held.append(handle)


def shifted_offsets(w: World) -> None:
    doc = json.loads((w.data / "target_qa/train-en.json").read_text())
    for article in doc["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                for answer in qa["answers"]:
                    answer["answer_start"] = max(answer["answer_start"] - 1, 0)
    w.write("target_qa/train-en.json", json.dumps(doc))


def hellaswag_row(label=None, ind=0) -> str:
    row = {"ind": ind, "ctx_a": "A man", "ctx_b": "walks", "endings": ["a", "b", "c", "d"]}
    return json.dumps(row | ({} if label is None else {"label": label}))


def csqa_row(key, qid) -> str:
    row = {"id": qid, "question": "Where?", "choices": {"label": ["A", "B"], "text": ["here", "there"]}}
    return json.dumps(row | ({} if key is None else {"answerKey": key}))


def multiple_choice(w: World, task: str, train: list[str], dev: list[str]) -> list[str]:
    w.write(f"{task}/train.jsonl", "\n".join(train) + "\n")
    w.write(f"{task}/dev.jsonl", "\n".join(dev) + "\n")
    return w.run(intermediate=[{"name": task, "tasks": [task]}],
                 data={task: {"train": f"{task}/train.jsonl", "dev": f"{task}/dev.jsonl"}})


def store(w: World, content: bytes | None) -> Path:
    """results.db in the run's output dir: raw bytes, or None for a directory."""
    db = w.out / "results.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    db.mkdir() if content is None else db.write_bytes(content)
    return db


def malformed_store(w: World) -> Path:
    """A real store whose pages are overwritten in the middle of the file."""
    from xstilts.experiments.store import ResultsStore

    db = w.out / "results.db"
    results = ResultsStore(db)
    for i in range(200):
        results.add_cell(f"k{i}", "m", "s", "t", i, {"en": {"f1": 1.0}}, {"pad": "x" * 500}, {}, 1.0)
    raw = bytearray(db.read_bytes())
    raw[len(raw) // 2: len(raw) // 2 + 8192] = b"\xff" * 8192
    db.write_bytes(bytes(raw))
    return db


@dataclass
class Probe:
    name: str                               # the case, as the issue words it
    argv: Callable[[World], list[str]]      # sets the case up; returns the command line
    expect: tuple[str, ...]                 # fragments of the one-line message
    code: int = 2


NO_LABEL = "no gold label, while other rows of this file have one"
PROBES = [
    Probe("answer_start in range but wrong", lambda w: (shifted_offsets(w), w.run(targets=["xquad"]))[-1],
          ("train-en.json", "answers do not match context[answer_start:...]")),
    Probe("two intermediate settings with the same name",
          lambda w: w.run(intermediate=[{"name": "a"}, {"name": "a", "tasks": ["squad_v1"]}]),
          ("field 'intermediate': 'a' given more than once",)),
    Probe("seeds: []", lambda w: w.run(seeds=[]), ("field 'seeds'", "at least one")),
    Probe("intermediate: []", lambda w: w.run(intermediate=[]), ("field 'intermediate'", "at least one")),
    Probe("misspelled key in data:", lambda w: w.run(data={"udpos": {"tset": "x.conllu"}}),
          ("field 'data'", "unknown udpos data key 'tset'", "valid choices: dev, test, train")),
    Probe("misspelled key in languages:", lambda w: w.run(languages={"udpso": ["de"]}),
          ("field 'languages.udpso.[key]'", "unknown task 'udpso'", "udpos")),
    Probe("misspelled key in max_examples:", lambda w: w.run(max_examples={"tset": 5}),
          ("field 'max_examples.tset", "'train', 'dev' or 'test'")),
    Probe("misspelled key in task_training:", lambda w: w.run(task_training={"udpso": {}}),
          ("field 'task_training.udpso.[key]'", "unknown task 'udpso'")),
    Probe("unknown target task", lambda w: w.run(targets=["xquadd"]), ("unknown task 'xquadd'", "valid choices:")),
    Probe("unknown intermediate task", lambda w: w.run(intermediate=[{"name": "x", "tasks": ["sqad"]}]),
          ("field 'intermediate.0.tasks.0'", "unknown task 'sqad'")),
    Probe("max_steps: 0", lambda w: w.run(target_training={"max_steps": 0}),
          ("field 'target_training.max_steps'", "greater than or equal to 1")),
    Probe("negative learning rate", lambda w: w.run(target_training={"learning_rate": -1e-5}),
          ("field 'target_training.learning_rate'", "greater than 0")),
    Probe("HellaSwag dev row without a label",
          lambda w: multiple_choice(w, "hellaswag", [hellaswag_row(0)], [hellaswag_row(1), hellaswag_row(None, 1)]),
          ("hellaswag/dev.jsonl:2", NO_LABEL)),
    Probe("HellaSwag train rows without a label",
          lambda w: multiple_choice(w, "hellaswag", [hellaswag_row(None)], [hellaswag_row(1)]),
          ("hellaswag/train.jsonl", "examples without gold labels; the train split")),
    Probe("CommonsenseQA dev row without a label",
          lambda w: multiple_choice(w, "commonsenseqa", [csqa_row("A", "1")], [csqa_row("B", "2"), csqa_row(None, "3")]),
          ("commonsenseqa/dev.jsonl:2", NO_LABEL)),
    Probe("CommonsenseQA train rows without a label",
          lambda w: multiple_choice(w, "commonsenseqa", [csqa_row(None, "1")], [csqa_row("A", "2")]),
          ("commonsenseqa/train.jsonl", "examples without gold labels")),
    Probe("setting name ../../../../x (path traversal)",
          lambda w: w.run(intermediate=[{"name": "../../../../x", "tasks": ["squad_v1"]}]),
          ("field 'intermediate.0.name'", "'../../../../x' is not a plain name")),
    Probe("setting name /abs/path", lambda w: w.run(intermediate=[{"name": "/abs/path"}]),
          ("'/abs/path' is not a plain name",)),
    Probe("data template leaving data_dir", lambda w: w.run(data={"udpos": {"test": "../../etc/{lang}"}}),
          ("'../../etc/{lang}' leaves data_dir",)),
    Probe("mlm_files entry leaving data_dir",
          lambda w: w.run(intermediate=[{"name": "m", "mlm_files": ["../../etc/passwd"]}]), ("leaves data_dir",)),
    Probe("languages value with a path", lambda w: w.run(languages={"udpos": ["../x"]}),
          ("'../x' is not a language code",)),
    Probe("SQuAD with \"data\": []",
          lambda w: (w.write("squad/train-v1.1.json", '{"data": []}'),
                     w.run(intermediate=[{"name": "squad", "tasks": ["squad_v1"]}]))[-1],
          ("squad/train-v1.1.json", "no examples (task 'squad_v1', train split)")),
    Probe("empty CoNLL-U train file",
          lambda w: (w.write("ud/UD_English-Demo/en_demo-ud-train.conllu", ""), w.run())[-1],
          ("en_demo-ud-train.conllu", "no examples")),
    Probe("empty CoNLL-U test file",
          lambda w: (w.write("ud/UD_de-Demo/de_demo-ud-test.conllu", "\n"), w.run())[-1],
          ("de_demo-ud-test.conllu", "no examples (task 'udpos', test split)")),
    Probe("Tatoeba with both sides empty",
          lambda w: (w.write("tatoeba/tatoeba.deu-eng.deu", ""), w.write("tatoeba/tatoeba.deu-eng.eng", ""),
                     w.run(targets=["tatoeba"]))[-1],
          ("tatoeba.deu-eng.deu", "empty: no sentences on either side")),
    Probe("bad test file found before any training (encoding)",
          lambda w: (w.write("ud/UD_de-Demo/de_demo-ud-test.conllu", b"1\t\xff\xfe\n"),
                     w.run(intermediate=[{"name": "squad", "tasks": ["squad_v1"]}]))[-1],
          ("de_demo-ud-test.conllu:1", "not valid UTF-8")),
    Probe("results.db with a bad header (run)", lambda w: (store(w, b"not a database" * 100), w.run())[-1],
          ("results.db", "file is not a database")),
    Probe("results.db with a bad header (results)", lambda w: ["results", str(store(w, b"not a database" * 100))],
          ("results.db", "file is not a database")),
    Probe("results.db malformed mid-file (results)", lambda w: ["results", str(malformed_store(w))],
          ("results.db", "malformed")),
    Probe("results.db malformed mid-file (report)",
          lambda w: ["report", str(malformed_store(w)), "--out", str(w.tmp / "report")], ("results.db", "malformed")),
    Probe("results.db is a directory (run)", lambda w: (store(w, None), w.run())[-1],
          ("results.db: is a directory",)),
    Probe("results.db is a directory (report)", lambda w: ["report", str(store(w, None)), "--out", str(w.tmp / "r")],
          ("results.db: is a directory",)),
    Probe("xstilts results on an empty file", lambda w: ["results", str(store(w, b""))],
          ("results.db: not an xstilts results database",)),
    Probe("output dir not writable", lambda w: w.run(output_dir="/sys/xstilts-probe/runs"),
          ("/sys/xstilts-probe", "Operation not permitted")),
    Probe("local model path with a typo", lambda w: w.run(models=[str(w.tmp / "tiny-modl")]),
          ("tiny-modl", "directory not found")),
    Probe("local model path with ~ that does not exist", lambda w: w.run(models=["~/xstilts-no-such-model"]),
          (f"'{Path.home()}/xstilts-no-such-model'", "directory not found")),
    Probe("xstilts run while a grid holds the output dir", lambda w: (hold_lock(w), w.run())[-1],
          ("another xstilts run or grid is using", "grid.lock is held")),
]


@pytest.fixture(scope="module")
def master(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad-inputs")
    return write_fixtures(root / "data"), build_tiny_model(root / "tiny", corpus_texts(("en", "de", "es")),
                                                           hidden=32, layers=1, vocab_size=400)


def run_probe(probe: Probe, master: Path, model: Path, tmp: Path) -> tuple[int, str, int, list[str]]:
    """(exit code, message, cells the command stored, paths written outside the sandbox)."""
    w = World(master, model, tmp)
    outside = set(tmp.parent.iterdir())
    try:
        argv = probe.argv(w)
        before = w.cells() or 0
        result = runner.invoke(app, argv)
    finally:
        for handle in w.held:
            handle.close()
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit), \
        result.output
    message = " ".join(result.output.split())  # rich may wrap long lines
    return result.exit_code, message, (w.cells() or 0) - before, sorted(map(str, set(tmp.parent.iterdir()) - outside))


@pytest.mark.parametrize("probe", PROBES, ids=[p.name for p in PROBES])
def test_bad_input_ends_in_one_line(probe, master, tmp_path):
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    code, message, cells, outside = run_probe(probe, *master, sandbox)
    assert code == probe.code, message
    assert message.startswith("error:") and message.count("error:") == 1, message
    for fragment in probe.expect:
        assert fragment in message, message
    assert not cells, "nothing is stored when a run ends in an error"
    assert outside == [], "a run writes only inside its sandbox"
    assert not list(sandbox.glob("runs/**/checkpoint*")) and not list(sandbox.glob("runs/*/*/seed*")), \
        "the error came before any training"


def test_a_run_writes_only_inside_its_output_dir(master, tmp_path, monkeypatch):
    """Path traversal: '..' in the model path and dots in the setting name still write only under output_dir
    (names that would leave it are refused at load: see the PROBES rows above)."""
    data, model = master
    monkeypatch.setenv("XSTILTS_CACHE", str(tmp_path / "cache"))
    shutil.copytree(model, tmp_path / "tiny")
    (tmp_path / "x").mkdir()
    w = World(data, tmp_path / "x" / ".." / "tiny", tmp_path)
    argv = w.run(intermediate=[{"name": "squad..", "tasks": ["squad_v1"]}], max_examples={"train": 64},
                 intermediate_training={"max_steps": 2, "save_every": 1, "batch_size": 4, "max_length": 64})
    before = {p for p in tmp_path.rglob("*")}
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    written = {p for p in tmp_path.rglob("*")} - before
    assert w.cells() == 1
    assert written and all(p.resolve().is_relative_to(w.out) or p.is_relative_to(tmp_path / "cache") for p in written), \
        sorted(map(str, written))


def test_results_and_report_never_write_into_the_file_they_read(tmp_path):
    for content in (b"", b"not a database" * 100):
        db = tmp_path / "results.db"
        db.write_bytes(content)
        for argv in (["results", str(db)], ["results", str(db), "--csv", str(tmp_path / "x.csv")],
                     ["report", str(db), "--out", str(tmp_path / "report")]):
            assert runner.invoke(app, argv).exit_code == 2
            assert db.read_bytes() == content
