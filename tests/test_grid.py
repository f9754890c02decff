"""`xstilts grid`: a grid killed with SIGKILL and resumed ends with exactly the rows of an
uninterrupted run; the Ray executor gives the same rows; concurrent writers keep the store sound.

The grid is examples/grid_demo.yaml (2 models x 3 intermediate settings x 3 targets x 2 seeds)
shrunk to a few steps on capped data. Every run uses one intra-op thread (OMP_NUM_THREADS=1),
so runs in this process, in a fresh one and in a Ray worker do the same float arithmetic.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
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
    for setting in tree["intermediate"]:
        setting["mlm_files"] = [str(data / Path(f).relative_to("demo/data")) for f in setting.get("mlm_files", [])]
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
    print(f"uninterrupted grid: {CELLS} cells in {time.time() - started:.1f}s")
    return all_rows(db)


def test_grid_killed_midway_resumes_to_the_rows_of_an_uninterrupted_run(world, reference):
    root, _, env = world
    config = write_config(world, "killed")
    db = root / "killed" / "results.db"
    process = subprocess.Popen(grid_command(config), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Kill while some cells are stored and a training checkpoint is on disk (mid-training).
    deadline, at_kill = time.time() + 120, None
    while process.poll() is None and time.time() < deadline:
        done = count_cells(db)
        if 4 <= done <= CELLS - 8 and any((root / "killed").glob("**/checkpoint/trainer_state.json")):
            os.kill(process.pid, signal.SIGKILL)
            at_kill = done
            break
        time.sleep(0.02)
    process.wait()
    assert at_kill is not None, "the grid finished (or timed out) before it could be killed midway"
    before_resume = count_cells(db)
    assert 0 < before_resume < CELLS
    assert_sound(db, before_resume)

    resumed = subprocess.run(grid_command(config), env=env, check=True, capture_output=True, text=True)
    assert f"{CELLS}/{CELLS} cells done ({before_resume} before this run)" in " ".join(resumed.stdout.split())
    print(f"killed at {at_kill} cells ({before_resume} stored), resumed to {count_cells(db)}")

    assert_sound(db, CELLS)
    assert all_rows(db) == reference  # same cells, languages, metrics and values, exactly
    # and a third run has nothing left to do
    again = subprocess.run(grid_command(config), env=env, check=True, capture_output=True, text=True)
    assert f"({CELLS} before this run)" in " ".join(again.stdout.split())
    assert all_rows(db) == reference


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
