"""What a planned cell runs: intermediate training, target fine-tuning, zero-shot evaluation.

Each phase trains at most once: a finished phase directory holds DONE beside its train_state.json,
and every target of a (model, setting, seed) starts from the same intermediate encoder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from accelerate import PartialState
from accelerate.utils import set_seed

from ..config import ExperimentConfig
from ..evaluation.predict import map_sharded, predict_logits
from ..modeling.embedding_cache import cached_embed
from ..modeling.lora import merged, trainable_parameters, with_lora
from ..modeling.model import MultiTaskModel, load_encoder
from ..progress import track
from ..tasks.registry import family_of
from ..tasks.retrieval import retrieval_layer
from ..training.checkpoints import is_finished, mark_finished
from ..training.loop import (BEST_WEIGHTS, TrainRun, TrainTask, load_weights, make_accelerator, remove_checkpoints,
                             runs_on_cpu, steps_per_epoch, train)
from ..training.mlm import mlm_task
from ..training.samplers import sample_tasks, task_probabilities
from ..training.tracking import tracker_options
from .cells import CellPlan
from .task_data import TaskData

TRAIN_STATE = "train_state.json"


@dataclass
class CellResult:
    metrics: dict[str, dict[str, float]]          # language -> metric -> value (zero-shot test)
    dev: dict[str, dict[str, dict[str, float]]]   # phase -> task -> metric -> value (the selected model's English dev)
    examples: dict = field(default_factory=dict)  # language -> evaluation.units.PerExample (test; decomposable metrics)


def train_once(model, run: TrainRun, accelerator, record: dict, save=lambda: None, result_dir: Path | None = None) -> dict:
    """Train a phase, then the main rank saves its result, writes train_state.json (with `record`), marks
    the result (`result_dir`, default the phase directory) finished and drops the resumable checkpoint."""
    state = train(model, run, accelerator)
    if accelerator.is_main_process:
        save()
        (run.output_dir / TRAIN_STATE).write_text(json.dumps({**record, **state}))
        mark_finished(result_dir or run.output_dir)
        remove_checkpoints(run.output_dir)
    accelerator.wait_for_everyone()  # other ranks read what the main rank just wrote
    return state


def selected_dev(phase_dir: Path) -> dict[str, dict[str, float]]:
    """English dev metrics per task of the weights that model selection kept (the first best score)."""
    state = json.loads((phase_dir / TRAIN_STATE).read_text())
    best = next((e for e in state["evals"] if e["score"] == state["best_score"]), None)
    return best["metrics"] if best else {}


class Phases:
    def __init__(self, config: ExperimentConfig, data: TaskData):
        self.config, self.data = config, data
        self.evaluated = 0  # test features and sentences this process predicted: its share under several processes

    # ---- evaluation -------------------------------------------------------------------
    def evaluate(self, model, spec, tokenizer, settings, labels, lang, split="test", examples=None, features=None,
                 per_example: dict | None = None):
        """Metrics of one split and language; per_example, when given, receives lang -> PerExample."""
        family = family_of(spec)
        examples = examples if examples is not None else self.data.examples(spec, split, lang)
        features = features if features is not None else self.data.features(
            spec, split, lang, tokenizer, settings.max_length, labels, examples)
        logits, count = map_sharded(lambda shard: predict_logits(model, spec.head_name, features.select(shard),
                                                                 tokenizer.pad_token_id, settings.eval_batch_size,
                                                                 precision=settings.precision),
                                    len(features))
        if split == "test":
            self.evaluated += count
        predictions = family.decode(examples, features, logits, labels, spec)
        if per_example is not None and (kept := family.per_example(examples, predictions, lang, spec)):
            per_example[lang] = kept
        return family.score(examples, predictions, lang, spec)

    def dev_scorer(self, specs, tokenizer, settings_by_task, labels_by_task, extra=None):
        """model -> {"score": mean headline over the tasks' English dev sets, "metrics": per task}
        (model selection on English only); None when no task has a dev set."""
        dev = {}
        for spec in specs:
            if "dev" in spec.sources:
                s = settings_by_task[spec.name]
                examples = self.data.examples(spec, "dev", "en", extra)
                dev[spec.name] = (spec, examples, self.data.features(spec, "dev", "en", tokenizer, s.max_length,
                                                                     labels_by_task[spec.name], examples, extra))
        if not dev:
            return None

        def score(model):
            metrics = {name: self.evaluate(model, spec, tokenizer, settings_by_task[name], labels_by_task[name],
                                           "en", "dev", examples, features)
                       for name, (spec, examples, features) in dev.items()}
            headlines = [dev[name][0].headline_value(m) for name, m in metrics.items()]
            return {"score": sum(headlines) / len(headlines), "metrics": metrics}
        return score

    # ---- phase 1 ----------------------------------------------------------------------
    def intermediate_encoder(self, cell: CellPlan) -> str:
        """Train the encoder on the setting's intermediate task(s) once; returns the encoder phase 2 starts from."""
        phase = cell.phase
        if not phase.trains:
            return cell.model
        out = cell.seed_dir / "intermediate"
        if is_finished(out / "encoder"):
            return str(out / "encoder")
        set_seed(cell.seed)
        encoder, tokenizer = load_encoder(cell.model)
        model = MultiTaskModel(encoder)
        extra = phase.setting.data
        labels = {s.name: self.data.labels(s, extra) for s in phase.specs}
        tasks = []
        for spec in phase.specs:
            st = phase.task_settings[spec.name]
            features = self.data.features(spec, "train", "en", tokenizer, st.max_length, labels[spec.name], extra=extra)
            if spec.head_name not in model.heads:
                model.add_head(spec.head_name, family_of(spec).head_kind, family_of(spec).num_labels(labels[spec.name], features))
            tasks.append(TrainTask(spec.name, spec.head_name, features, st.batch_size))
        if phase.mlm_paths:
            mlm = phase.task_settings["mlm"]
            tasks.append(mlm_task(phase.mlm_paths, tokenizer, mlm.max_length, mlm.batch_size, phase.setting.mlm_probability))
            model.add_head("mlm", "mlm")
        settings = phase.settings
        model.encoder = with_lora(model.encoder, settings.lora)
        total = settings.max_steps or int(round(settings.epochs * steps_per_epoch(tasks)))
        sizes = {t.name: len(t.features) for t in tasks}
        setting = phase.setting
        step_tasks = sample_tasks(task_probabilities(sizes, setting.sampler, setting.sampler_cap, setting.temperature),
                                  total, cell.seed)
        accelerator = make_accelerator(settings, self.config.device, multi_head=len(model.heads) > 1,
                                       **tracker_options(self.config.tracking, out))
        model.to(accelerator.device)
        run = TrainRun(tasks, step_tasks, settings, out, cell.seed, tokenizer.pad_token_id,
                       self.dev_scorer(phase.specs, tokenizer, phase.task_settings, labels, extra),
                       settings.eval_every or steps_per_epoch(tasks), f"phase 1 {setting.name}",
                       {"phase_key": phase.key, "model": cell.model, "phase": phase.config}, self.config.tracking.log_every)
        record = {"tasks": setting.tasks, "settings": phase.config["settings"], "trainable_parameters": trainable_parameters(model)}

        def save():  # the target phase loads a plain encoder: LoRA merged in
            model.encoder = merged(model.encoder)
            model.save_encoder(out / "encoder", tokenizer)
        train_once(model, run, accelerator, record, save=save, result_dir=out / "encoder")
        return str(out / "encoder")

    def intermediate_dev(self, cell: CellPlan) -> dict[str, dict[str, dict[str, float]]]:
        return {"intermediate": selected_dev(cell.seed_dir / "intermediate")} if cell.phase.trains else {}

    # ---- phase 2 + zero-shot evaluation -----------------------------------------------
    def finetune_and_evaluate(self, cell: CellPlan, encoder_path: str) -> CellResult:
        """Fine-tune a fresh head on the target's English data (shared by targets with the same), then
        evaluate zero-shot in every language."""
        spec, settings = cell.spec, cell.settings
        encoder, tokenizer = load_encoder(encoder_path)
        set_seed(cell.seed)  # fresh heads are seeded too
        model = MultiTaskModel(encoder)
        labels = self.data.labels(spec)
        features = self.data.features(spec, "train", "en", tokenizer, settings.max_length, labels)
        model.add_head(spec.head_name, family_of(spec).head_kind, family_of(spec).num_labels(labels, features))
        model.encoder = with_lora(model.encoder, settings.lora)  # before loading: best_model.pt has the adapter's names
        out = cell.finetune_dir
        accelerator = make_accelerator(settings, self.config.device, **tracker_options(self.config.tracking, out))
        model.to(accelerator.device)
        if is_finished(out):
            load_weights(model, out / BEST_WEIGHTS)
        else:
            task = TrainTask(spec.name, spec.head_name, features, settings.batch_size)
            total = settings.max_steps or int(round(settings.epochs * steps_per_epoch([task])))
            run = TrainRun([task], [spec.name] * total, settings, out, cell.seed, tokenizer.pad_token_id,
                           self.dev_scorer([spec], tokenizer, {spec.name: settings}, {spec.name: labels}),
                           settings.eval_every or steps_per_epoch([task]), f"phase 2 {spec.name}",
                           {"finetune_key": cell.finetune_key, "cell_key": cell.key, "cell": cell.config},
                           self.config.tracking.log_every)
            train_once(model, run, accelerator, {"tasks": [spec.name], "trainable_parameters": trainable_parameters(model)})
        kept = {}
        metrics = {lang: self.evaluate(model, spec, tokenizer, settings, labels, lang, per_example=kept)
                   for lang in track(cell.languages, f"evaluating {spec.name}")}
        return CellResult(metrics, {"target": selected_dev(out)}, kept)

    def embed_and_score(self, cell: CellPlan, encoder_path: str) -> CellResult:
        """Score the encoder's sentence embeddings directly (BUCC, Tatoeba): nothing is trained."""
        r, spec = self.config.retrieval, cell.spec
        encoder, tokenizer = load_encoder(encoder_path)
        encoder.to(PartialState(cpu=runs_on_cpu(self.config.device)).device)
        layer = retrieval_layer(r, cell.model, encoder.config)  # recorded with every result

        def encode(texts):
            # an unchanged encoder's embeddings are reused across seeds and settings (a baseline's, say)
            rows, count = map_sharded(lambda shard: cached_embed(encoder_path, encoder, tokenizer, [texts[i] for i in shard],
                                                                 layer, r.pooling, r.max_length, r.batch_size,
                                                                 self.config.feature_cache), len(texts))
            self.evaluated += count
            return np.stack(rows) if rows else np.zeros((0, encoder.config.hidden_size), np.float32)
        family = family_of(spec)
        metrics, kept = {}, {}
        for lang in track(cell.languages, f"retrieval {spec.name}"):  # a split is one corpus (one file pair), read whole
            corpora = {split: reader(path) for split in spec.sources for path, reader in self.data.files(spec, split, lang)}
            scores, per_example = family.score_embeddings_per_example(spec, corpora, encode)
            metrics[lang] = {**scores, "layer": layer}
            if per_example:
                kept[lang] = per_example
        return CellResult(metrics, {}, kept)

    def run(self, cell: CellPlan) -> CellResult:
        encoder_path = self.intermediate_encoder(cell)
        target = self.finetune_and_evaluate if family_of(cell.spec).trains else self.embed_and_score
        result = target(cell, encoder_path)
        result.dev.update(self.intermediate_dev(cell))
        return result
