"""`xstilts grid`: a grid killed with SIGKILL and resumed ends with exactly the rows of an
uninterrupted run; the Ray executor gives the same rows; concurrent writers keep the store sound.

The grid is examples/grid_demo.yaml (2 models x 3 intermediate settings x 3 targets x 2 seeds)
shrunk to a few steps on capped data. Every run uses one intra-op thread (OMP_NUM_THREADS=1),
so runs in this process, in a fresh one and in a Ray worker do the same float arithmetic.
"""

from __future__ import annotations

import importlib.util
import json
import multiprocessing
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from xstilts.demo import LANGS, build_tiny_model, corpus_texts, write_fixtures
from xstilts.experiments.store import ResultsStore

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "grid_demo.yaml"
TINY = dict(hidden=32, layers=1, vocab_size=600)
# Short runs, but long enough (and checkpointing often enough) that a kill can land mid-training.
SHRINK = {"intermediate_training": {"max_steps": 16, "save_every": 4, "batch_size": 8, "max_length": 64},
          "target_training": {"max_steps": 8, "save_every": 3, "batch_size": 8, "max_length": 64},
          "max_examples": {"train": 64, "dev": 16, "test": 16}}
CELLS = 2 * 3 * 3 * 2


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Fixtures, two tiny models and the shrunk example grid config; one feature cache for all runs."""
    root = tmp_path_factory.mktemp("grid")
    data = write_fixtures(root / "data")
    models = [build_tiny_model(root / "tiny-multilingual", corpus_texts(LANGS), **TINY),
              build_tiny_model(root / "tiny-english", corpus_texts(("en",)), **TINY)]
    tree = yaml.safe_load(EXAMPLE.read_text())
    tree.update(data_dir=str(data), models=[str(m) for m in models])
    for section, values in SHRINK.items():
        tree[section] = {**tree.get(section, {}), **values}
    env = {**os.environ, "XSTILTS_CACHE": str(root / "cache"), "OMP_NUM_THREADS": "1"}
    return root, tree, env


def write_config(world, name: str, **changes) -> Path:
    root, tree, _ = world
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump({**tree, "output_dir": str(root / name), **changes}))
    return path


def grid_command(config: Path, *options: str) -> list[str]:
    return [sys.executable, "-m", "xstilts", "grid", str(config), *options]


def all_rows(db: Path) -> list[tuple]:
    """Every result row with its cell's identity and value, in a fixed order."""
    return [tuple(row.values()) for row in ResultsStore(db).rows()]


def count_cells(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=1) as conn:
            return conn.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
    except sqlite3.OperationalError:  # created but schema not yet written, or locked by a writer
        return 0


def live_checkpoints(run_dir: Path) -> list[Path]:
    """Training checkpoints on disk now; os.walk skips directories the grid deletes while we look."""
    return [Path(parent) / "trainer_state.json" for parent, _, files in os.walk(run_dir)
            if Path(parent).name == "checkpoint" and "trainer_state.json" in files]


def assert_sound(db: Path, cells: int) -> None:
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*) FROM cells").fetchone()[0] == cells
        total, distinct = conn.execute("SELECT COUNT(*), COUNT(DISTINCT cell_key || '|' || language || '|' || metric) "
                                       "FROM results").fetchone()
        assert total == distinct, "duplicate result rows"
        assert conn.execute("SELECT COUNT(*) FROM results WHERE cell_key NOT IN (SELECT cell_key FROM cells)").fetchone()[0] == 0


@pytest.fixture(scope="module")
def reference(world):
    """The uninterrupted run of the whole grid."""
    _, _, env = world
    started = time.time()
    subprocess.run(grid_command(write_config(world, "uninterrupted")), env=env, check=True, capture_output=True)
    db = world[0] / "uninterrupted" / "results.db"
    rows = all_rows(db)
    print(f"uninterrupted grid: {CELLS} cells, {len(rows)} rows in {time.time() - started:.1f}s")
    return rows


def test_grid_killed_midway_resumes_to_the_rows_of_an_uninterrupted_run(world, reference):
    root, _, env = world
    config = write_config(world, "killed")
    db = root / "killed" / "results.db"
    process = subprocess.Popen(grid_command(config), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Kill while some cells are stored and, preferably, a training checkpoint is on disk (mid-training).
    deadline, at_kill = time.time() + 120, None
    while process.poll() is None and time.time() < deadline:
        done = count_cells(db)
        checkpoints = live_checkpoints(root / "killed")
        if CELLS // 4 <= done <= CELLS - 8 and (checkpoints or done >= CELLS // 2):
            os.kill(process.pid, signal.SIGKILL)
            at_kill = done
            break
        time.sleep(0.02)
    process.wait()
    assert at_kill is not None, "the grid finished (or timed out) before it could be killed midway"
    before_resume, rows_before = count_cells(db), len(all_rows(db))
    assert 0 < before_resume < CELLS
    assert_sound(db, before_resume)

    resumed = subprocess.run(grid_command(config), env=env, check=True, capture_output=True, text=True)
    assert f"{CELLS}/{CELLS} cells done ({before_resume} before this run)" in " ".join(resumed.stdout.split())
    # the plan printed first knew which cells the killed run had finished
    assert f"cells: {CELLS} in the grid, {before_resume} done, {CELLS - before_resume} to run" in resumed.stdout
    print(f"killed at {at_kill} cells ({before_resume} stored, {rows_before} rows) with checkpoints "
          f"{[str(c.parent.parent.relative_to(root)) for c in checkpoints]}; resumed to {count_cells(db)} cells, "
          f"{len(all_rows(db))} rows")

    assert_sound(db, CELLS)
    assert all_rows(db) == reference  # same cells, languages, metrics and values, exactly
    assert not list((root / "killed").glob("**/checkpoint*")), "finished phases must not leave checkpoints behind"
    # and a third run has nothing left to do
    again = subprocess.run(grid_command(config), env=env, check=True, capture_output=True, text=True)
    assert f"({CELLS} before this run)" in " ".join(again.stdout.split())
    assert all_rows(db) == reference


def test_two_process_launch_trains_on_both_processes_and_stores_each_cell_once(world):
    """torchrun on the CPU: the processes join one DDP group (no GPU, no --device needed)."""
    root, tree, env = world
    # memory options on: DDP with checkpointing, and per-device passes that synchronise on the last pass only
    memory = {"gradient_checkpointing": True, "per_device_batch_size": 3}
    config = write_config(world, "torchrun", models=tree["models"][:1], intermediate=tree["intermediate"][:2],
                          targets=["xquad", "tatoeba"], seeds=[1],
                          intermediate_training={**tree["intermediate_training"], **memory},
                          target_training={**tree["target_training"], **memory})
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "xstilts", "run", str(config)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert_sound(root / "torchrun" / "results.db", 1 * 2 * 2)
    states = [json.loads(path.read_text()) for path in (root / "torchrun").rglob("train_state.json")]
    assert len(states) == 3  # XQuAD fine-tunes after the baseline and after SQuAD, and the SQuAD phase itself
    assert all(state["processes"] == 2 for state in states)
    # 8 examples a step, 4 per process, as passes of 2 (at most 3 rows each)
    assert all(batch == {"effective_batch_size": 8, "processes": 2, "per_device_batch_size": 2, "accumulation_steps": 2}
               for state in states for batch in state["batches"].values())
    assert result.stdout.count("xquad ((EM + F1) / 2)") == 1, "tables are printed by the main process only"

    # Sharded evaluation: each process evaluated its own share of every cell's test sets...
    log = " ".join(result.stdout.split())
    shares = {rank: sum(int(n) for n in re.findall(rf"process {rank}/2 evaluated (\d+) inputs", log)) for rank in (0, 1)}
    assert log.count("process 0/2 evaluated") == log.count("process 1/2 evaluated") == 4
    # ...and together they scored exactly what one process scores alone on the same trained phases
    sharded = all_rows(root / "torchrun" / "results.db")
    (root / "torchrun" / "results.db").unlink()
    import torch
    from xstilts.config import load_config
    from xstilts.experiments.pipeline import Pipeline

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the float arithmetic of the OMP_NUM_THREADS=1 processes
    try:
        alone = Pipeline(load_config(config))
        alone.run()
    finally:
        torch.set_num_threads(threads)
    assert all_rows(root / "torchrun" / "results.db") == sharded
    assert shares[0] + shares[1] == alone.phases.evaluated and min(shares.values()) >= alone.phases.evaluated // 2 - 8


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed (pip install 'xstilts[ray]')")
def test_ray_executor_runs_groups_in_parallel_with_the_same_rows(world, reference):
    root, tree, env = world
    # 1 model x 2 settings x 2 targets x 2 seeds: 4 groups of 2 cells on a local 2-CPU Ray instance
    config = write_config(world, "ray", models=tree["models"][:1], intermediate=tree["intermediate"][:2],
                          targets=["xquad", "udpos"])
    started = time.time()
    result = subprocess.run(grid_command(config, "--executor", "ray", "--num-cpus", "2"), env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    print(f"ray grid: 8 cells in {time.time() - started:.1f}s")
    db = root / "ray" / "results.db"
    assert_sound(db, 8)
    # cell keys hash the full cell config (not the output dir), so the reference has these cells
    rows = all_rows(db)
    keys = {row[-1] for row in rows}
    assert rows == [row for row in reference if row[-1] in keys]
    assert len(keys) == 8


def _write_cells(db: str, worker: int, keys: list[str]) -> None:
    store = ResultsStore(db)
    for key in keys:
        metrics = {lang: {"f1": float(worker), "accuracy": 1.0} for lang in ("de", "en", "es")}
        store.add_cell(key, "m", "s", "udpos", worker, metrics, {"key": key}, {}, 0.0)


def test_concurrent_writers_neither_lose_nor_duplicate_rows(tmp_path):
    """Four processes write 40 cells each into one store, half of them the same keys (re-adds)."""
    db = str(tmp_path / "results.db")
    ResultsStore(db)
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_cells, args=(db, w, [f"shared{i}" for i in range(20)] +
                                                        [f"own{w}-{i}" for i in range(20)])) for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    assert_sound(Path(db), 20 + 4 * 20)
    with sqlite3.connect(db) as conn:  # a re-added cell's rows all come from one writer
        mixed = conn.execute("SELECT cell_key FROM results WHERE metric = 'f1' GROUP BY cell_key "
                             "HAVING COUNT(DISTINCT value) > 1").fetchall()
        assert not mixed
        assert conn.execute("SELECT COUNT(*) FROM results").fetchone()[0] == (20 + 80) * 3 * 2


def test_kill_during_a_checkpoint_save_resumes_like_an_uninterrupted_run(world, tmp_path, monkeypatch):
    """A kill between writing a checkpoint's weights and its trainer_state.json must not leave
    new weights beside an old step count: the resumed run has to equal the uninterrupted one."""
    import torch

    from xstilts.config import TrainSettings
    from xstilts.modeling.model import MultiTaskModel, load_encoder
    from xstilts.training import loop

    root, tree, env = world
    monkeypatch.setenv("XSTILTS_CACHE", env["XSTILTS_CACHE"])
    settings = TrainSettings(learning_rate=3e-3, batch_size=8, precision="no", save_every=3, max_length=64)

    def run(output_dir):
        encoder, tokenizer = load_encoder(tree["models"][0])
        torch.manual_seed(0)
        model = MultiTaskModel(encoder)
        model.add_head("mlm", "mlm")  # MLM masking draws from the RNG every step: restoring it matters
        task = loop.TrainTask("mlm", "mlm", *mlm_features(tokenizer))
        run = loop.TrainRun([task], ["mlm"] * 10, settings.model_copy(update={"learning_rate": 3e-3}), output_dir, 5,
                            tokenizer.pad_token_id)
        state = loop.train(model, run, loop.make_accelerator(settings, "cpu"))
        return state, model.state_dict()

    def mlm_features(tokenizer):
        from xstilts.training.mlm import mlm_task

        task = mlm_task([Path(tree["data_dir"]) / "mlm" / "multilingual.txt"], tokenizer, 64, 8)
        return task.features.select(range(48)), 8, task.transform

    expected_state, expected_weights = run(tmp_path / "straight")
    saves, real_save = [], torch.save

    def dying_save(obj, path, *args, **kwargs):  # the 2nd checkpoint dies after its weights are written
        if Path(path).name == "scheduler.pt":
            saves.append(path)
            if len(saves) == 2:
                raise KeyboardInterrupt("simulated kill mid-save")
        return real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(loop.torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "killed")
    assert (tmp_path / "killed" / "checkpoint.partial").is_dir()  # what a kill mid-save leaves
    monkeypatch.setattr(loop.torch, "save", real_save)
    resumed_state, resumed_weights = run(tmp_path / "killed")
    assert resumed_state["losses"] == expected_state["losses"]
    assert all(torch.equal(resumed_weights[k], expected_weights[k]) for k in expected_weights)
    loop.remove_checkpoints(tmp_path / "killed")
    assert not list((tmp_path / "killed").glob("checkpoint*"))


def test_example_grid_configs_name_registered_tasks():
    from types import SimpleNamespace

    from xstilts.config import load_config
    from xstilts.tasks.registry import get_task
    from xstilts.tasks.retrieval import retrieval_layer

    demo = load_config(EXAMPLE)
    assert (len(demo.models), len(demo.intermediate), len(demo.targets), len(demo.seeds)) == (2, 3, 3, 2)
    study = load_config(EXAMPLE.with_name("grid_xlmr_large.yaml"))
    assert study.models == ["xlm-roberta-large"] and study.seeds == [1, 2, 3]
    assert [s.name for s in study.intermediate][0] == "baseline"
    nine = sorted(["anli_plus", "mnli", "qqp", "squad_v1", "squad_v2", "hellaswag", "cosmosqa", "commonsenseqa", "ccg"])
    assert sorted(t for s in study.intermediate if len(s.tasks) == 1 for t in s.tasks) == nine
    mix = study.intermediate[-1]  # the paper's multi-task setting
    assert (sorted(mix.tasks), mix.sampler, mix.sampler_cap) == (nine, "proportional", 2 ** 17)
    assert (study.intermediate_training.learning_rate, study.target_training.learning_rate) == (1e-5, 3e-6)
    assert all(get_task(t).role == "intermediate" for s in study.intermediate for t in s.tasks)
    assert all(get_task(t).role == "target" for t in study.targets) and len(study.targets) == 9
    # the paper's retrieval setting: mean-pooled layer 13 of XLM-R large = hidden-state index 14 of 24 layers
    assert study.retrieval.layers == {"xlm-roberta-large": 14} and study.retrieval.pooling == "mean"
    assert retrieval_layer(study.retrieval, "xlm-roberta-large", SimpleNamespace(num_hidden_layers=24)) == 14


def test_unknown_executor_is_a_one_line_error(tmp_path):
    from typer.testing import CliRunner

    from xstilts.cli import app

    result = CliRunner().invoke(app, ["grid", str(EXAMPLE), "--executor", "dask", "--set", f"output_dir={tmp_path}"])
    assert result.exit_code == 2 and "unknown executor 'dask'; choose from: local, ray" in " ".join(result.output.split())


def test_a_second_driver_on_the_same_output_dir_is_refused(tmp_path):
    from typer.testing import CliRunner

    from xstilts.cli import app
    from xstilts.experiments.executors import exclusive

    with exclusive(tmp_path):  # as a running `xstilts grid` holds it
        result = CliRunner().invoke(app, ["grid", str(EXAMPLE), "--set", f"output_dir={tmp_path}"])
    assert result.exit_code == 2 and "another xstilts run or grid is using" in " ".join(result.output.split())
    with exclusive(tmp_path):  # released with its holder
        pass
