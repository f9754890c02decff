"""Ablations of intermediate training: multi-task samplers, MLM mixed in, translated data."""

from __future__ import annotations

import math
from collections import Counter

import pytest
import torch

import xstilts.experiments.phases as phases_module
from xstilts.config import load_config
from xstilts.demo import LANGS, build_tiny_model, corpus_texts, demo_config, write_fixtures
from xstilts.experiments.pipeline import Pipeline
from xstilts.modeling.model import load_encoder
from xstilts.tasks.registry import get_task
from xstilts.training.samplers import sample_tasks, task_probabilities

SIZES = {"big": 9000, "mid": 900, "small": 100}
# (sampler, cap, temperature) -> the distribution it must give, worked out by hand
CASES = [
    (("proportional", None, 2.0), {"big": 0.9, "mid": 0.09, "small": 0.01}),
    (("proportional", 1000, 2.0), {"big": 1000 / 2000, "mid": 900 / 2000, "small": 100 / 2000}),  # K = 1000
    (("temperature", None, 2.0), {t: math.sqrt(n) / (math.sqrt(9000) + 30 + 10) for t, n in SIZES.items()}),
    (("temperature", None, 1.0), {"big": 0.9, "mid": 0.09, "small": 0.01}),  # T = 1 is proportional
    (("uniform", None, 2.0), {t: 1 / 3 for t in SIZES}),
]


@pytest.mark.parametrize(("sampler", "expected"), CASES, ids=lambda c: str(c[0]) if isinstance(c, tuple) else None)
def test_sampled_task_counts_follow_the_configured_distribution(sampler, expected):
    kind, cap, temperature = sampler
    probabilities = task_probabilities(SIZES, kind, cap, temperature)
    assert probabilities == pytest.approx(expected)
    steps = 20_000
    counts = Counter(sample_tasks(probabilities, steps, seed=3))
    for task, p in expected.items():  # within 4 binomial standard deviations
        assert abs(counts[task] - steps * p) <= 4 * math.sqrt(steps * p * (1 - p)) + 1, (task, counts)


def test_schedule_is_a_function_of_the_seed():
    probabilities = task_probabilities(SIZES, "uniform")
    assert sample_tasks(probabilities, 500, 1) == sample_tasks(probabilities, 500, 1)
    assert sample_tasks(probabilities, 500, 1) != sample_tasks(probabilities, 500, 2)


# ---- end to end: MLM mixed in, translated intermediate data ------------------------------
FAST = {"learning_rate": 2e-3, "batch_size": 8, "max_length": 64, "precision": "no", "max_steps": 8}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("ablations")
    data = write_fixtures(root / "data")
    return data, build_tiny_model(root / "tiny", corpus_texts(LANGS), hidden=32, layers=1, vocab_size=600)


def test_mlm_and_translated_intermediate_settings_run_end_to_end(demo, tmp_path, monkeypatch):
    data, model = demo
    monkeypatch.setenv("XSTILTS_CACHE", str(tmp_path / "cache"))
    mlm = [str(data / "mlm" / "multilingual.txt")]
    german = {"squad_v1": {"train": "squad/train-v1.1.de.json"}}
    tree = demo_config(data, [str(model)], tmp_path / "runs")
    tree.update(targets=["udpos"], languages={"udpos": ["en", "de"]}, intermediate_training=FAST,
                target_training=FAST, max_examples={"train": 64, "dev": 16, "test": 16}, intermediate=[
                    {"name": "squad_en", "tasks": ["squad_v1"]},
                    {"name": "squad_de", "tasks": ["squad_v1"], "data": german},            # translated
                    {"name": "squad+mlm", "tasks": ["squad_v1"], "mlm_files": mlm, "sampler_cap": 100},
                    {"name": "squad+mlm-T", "tasks": ["squad_v1"], "mlm_files": mlm, "sampler": "temperature",
                     "temperature": 4.0},
                    {"name": "squad+mlm-uniform", "tasks": ["squad_v1"], "mlm_files": mlm, "sampler": "uniform"},
                    {"name": "mlm", "mlm_files": mlm},                                      # MLM alone
                ])
    pipeline = Pipeline(load_config(base=tree))
    mixed = []  # what the pipeline asked the sampler for
    real = phases_module.task_probabilities
    monkeypatch.setattr(phases_module, "task_probabilities",
                        lambda sizes, *args: mixed.append((sizes, args)) or real(sizes, *args))
    rows = pipeline.run().rows()

    assert {r["intermediate"] for r in rows} == {s["name"] for s in tree["intermediate"]}
    assert {(r["intermediate"], r["language"]) for r in rows if r["metric"] == "f1"} == {
        (s["name"], lang) for s in tree["intermediate"] for lang in ("en", "de")}
    # the settings' samplers reached the schedule, with the MLM text as one more task (200 lines)
    by_args = {args: sizes for sizes, args in mixed}
    assert by_args[("proportional", 100, 2.0)] == {"squad_v1": 64, "mlm": 200}
    assert by_args[("temperature", None, 4.0)] == {"squad_v1": 64, "mlm": 200}
    assert by_args[("uniform", None, 2.0)] == {"squad_v1": 64, "mlm": 200}

    # translated data: the German file is what squad_de reads, and it trains a different encoder
    spec = get_task("squad_v1")
    setting = {s.name: s for s in pipeline.config.intermediate}
    questions = {ex.question for ex in pipeline.data.examples(spec, "train", "en", setting["squad_de"].data)}
    assert any(q.startswith(("Wo wohnt", "Wann wurde", "Als was")) for q in questions)
    encoders = {name: load_encoder(pipeline.phases.intermediate_encoder(pipeline.planner.cell(str(model), setting[name], 1, pipeline.config.targets[0])))[0].state_dict()
                for name in ("squad_en", "squad_de")}
    assert any(not torch.equal(encoders["squad_en"][k], encoders["squad_de"][k]) for k in encoders["squad_en"])
    # and the data override is part of the phase-1 key, so the two never share a checkpoint
    assert pipeline.planner.phase(setting["squad_de"]).key != pipeline.planner.phase(setting["squad_en"]).key
