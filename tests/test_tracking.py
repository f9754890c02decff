"""Training progress reaches run.log in every output directory and the trackers of `tracking.report_to`."""

from __future__ import annotations

import pytest

from xstilts.config import load_config
from xstilts.demo import build_tiny_model, corpus_texts, demo_config, write_fixtures
from xstilts.experiments.pipeline import Pipeline
from xstilts.training.tracking import RUN_LOG, TRACKER_DIR

TRAIN_SCALARS = {"train/loss", "train/learning_rate", "train/tokens_per_s", "dev/score"}


def tiny_run(root, report_to):
    data = write_fixtures(root / "data")
    model = build_tiny_model(root / "tiny", corpus_texts(("en",)), hidden=32, layers=1, vocab_size=400)
    tree = demo_config(data, [str(model)], root / "runs")
    tree["targets"], tree["intermediate"] = ["xquad"], [{"name": "squad", "tasks": ["squad_v1"]}]
    steps = {"max_steps": 6, "eval_every": 3}
    tree["intermediate_training"].update(steps)
    tree["target_training"].update(steps)
    tree["tracking"] = {"report_to": report_to, "log_every": 2}
    pipeline = Pipeline(load_config(base=tree))
    pipeline.run()
    return pipeline, next(pipeline.cells())


def phase_dirs(cell):
    return {"phase 1": cell.seed_dir / "intermediate", "phase 2": cell.finetune_dir}


def test_tensorboard_scalars_and_run_logs(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    pipeline, cell = tiny_run(tmp_path, ["tensorboard"])
    for phase, directory in phase_dirs(cell).items():
        events = EventAccumulator(str(next((directory / TRACKER_DIR).rglob("events.out.tfevents.*")).parent))
        events.Reload()
        assert TRAIN_SCALARS <= set(events.Tags()["scalars"]), phase
        assert [e.step for e in events.Scalars("train/loss")] == [2, 4, 6]  # log_every 2 of 6 steps
        assert [e.step for e in events.Scalars("dev/score")] == [3, 6]
        assert all(e.value > 0 for e in events.Scalars("train/tokens_per_s"))
        log = (directory / RUN_LOG).read_text()
        assert f"{phase} " in log and "train/loss=" in log and "dev/score=" in log
    # the run metadata: the phase's key with its config
    hparams = next((phase_dirs(cell)["phase 1"] / TRACKER_DIR).rglob("hparams.yml")).read_text()
    assert f"phase_key: {cell.phase.key}" in hparams and "phase.settings.learning_rate" in hparams
    top = (pipeline.config.output_dir / RUN_LOG).read_text()
    assert f"({cell.key}) started" in top and "stored in" in top


def test_no_trackers_by_default_but_run_log(tmp_path):
    _, cell = tiny_run(tmp_path, [])
    for directory in phase_dirs(cell).values():
        assert not (directory / TRACKER_DIR).exists()
        assert "train/loss=" in (directory / RUN_LOG).read_text()


def test_mlflow_file_store(tmp_path):
    pytest.importorskip("mlflow", reason="the mlflow extra is not installed")
    import mlflow

    _, cell = tiny_run(tmp_path, ["mlflow"])
    client = mlflow.tracking.MlflowClient(str(cell.finetune_dir / TRACKER_DIR))
    runs = [r for e in client.search_experiments() for r in client.search_runs([e.experiment_id])]
    assert runs and "train/loss" in runs[0].data.metrics and "dev/score" in runs[0].data.metrics
