"""The X-STILTs recipe: intermediate training -> target fine-tuning -> zero-shot evaluation.

Every cell (model x intermediate setting x target x seed) is keyed by a hash of its full
configuration and of its data files' contents; finished cells are skipped, so an interrupted run resumes where it stopped.
One intermediate checkpoint feeds all targets, and targets with the same English training
data (XQuAD and MLQA both train on SQuAD) share one fine-tune.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import time
from pathlib import Path

import torch
from accelerate.utils import set_seed
from rich.console import Console

from ..config import ExperimentConfig, IntermediateSetting, TrainSettings, save_config
from ..data.features import cached_features, content_fingerprint, file_fingerprint, tokenizer_fingerprint
from ..data.readers import read_tag_vocab
from ..errors import XstiltsError
from ..evaluation.predict import predict_logits
from ..modeling.model import MultiTaskModel, embed, load_encoder
from ..tasks.registry import family_of, get_task
from ..training.loop import BEST_WEIGHTS, TrainTask, make_accelerator, remove_checkpoints, steps_per_epoch, train
from ..training.mlm import mlm_task
from ..training.samplers import sample_tasks, task_probabilities
from .provenance import library_versions
from .store import ResultsStore

DONE = "DONE"


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name.strip("/")).strip("_")[-60:]


def digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


class Pipeline:
    def __init__(self, config: ExperimentConfig, console: Console | None = None):
        self.config = config
        self.console = console or Console()
        self.store = ResultsStore(config.output_dir / "results.db")
        self.versions = library_versions()

    # ---- data -------------------------------------------------------------------------
    def overrides(self, task: str, extra: dict[str, dict[str, str]] | None = None) -> dict[str, str]:
        return {**self.config.data.get(task, {}), **(extra or {}).get(task, {})}

    def examples(self, spec, split: str, lang: str = "en", extra=None) -> list:
        examples = spec.read(self.config.data_dir, split, lang, self.overrides(spec.name, extra))
        cap = self.config.max_examples.get(split)
        if cap and len(examples) > cap:  # the same subsample for every model, seed and setting
            keep = sorted(random.Random(f"{spec.name}/{split}/{lang}").sample(range(len(examples)), cap))
            examples = [examples[i] for i in keep]
        return examples

    def features(self, spec, split, lang, tokenizer, max_length, labels, examples=None, extra=None):
        """Cached features of one split; examples are read only on a cache miss unless given."""
        files = [p for p, _ in spec.files(self.config.data_dir, split, lang, self.overrides(spec.name, extra))]
        key = {"task": spec.name, "split": split, "lang": lang, "files": file_fingerprint(files),
               "cap": self.config.max_examples.get(split), "tokenizer": tokenizer_fingerprint(tokenizer),
               "max_length": max_length, "labels": labels}
        build = lambda: family_of(spec).featurize(examples if examples is not None else self.examples(spec, split, lang, extra),
                                                  tokenizer, max_length, labels)
        return cached_features(key, build, self.config.feature_cache)

    def input_files(self, spec, languages, extra=None) -> list[Path]:
        """Every file a phase of this task reads: English train/dev, and each language's test (or
        retrieval) files. Their contents go into the cell keys, so a file edited in place re-runs its cells."""
        pairs = [(split, lang) for split in spec.sources
                 for lang in (languages if split == "test" or spec.family == "retrieval" else ["en"])]
        return [path for split, lang in pairs
                for path, _ in spec.files(self.config.data_dir, split, lang, self.overrides(spec.name, extra))]

    def labels(self, spec, extra=None) -> list[str] | None:
        if spec.label_file:
            return read_tag_vocab(Path(self.config.data_dir) / self.overrides(spec.name, extra).get("labels", spec.label_file))
        family = family_of(spec)
        return family.label_list(spec, [] if spec.labels else self.examples(spec, "train", "en", extra))

    def settings(self, spec, phase: TrainSettings) -> TrainSettings:
        defaults = TrainSettings(learning_rate=spec.learning_rate, batch_size=spec.batch_size,
                                 epochs=spec.epochs, max_length=spec.max_length)
        return defaults.merged(phase).merged(self.config.task_training.get(spec.name))

    # ---- evaluation -------------------------------------------------------------------
    def evaluate(self, model, spec, tokenizer, settings, labels, lang, split="test", examples=None, features=None):
        family = family_of(spec)
        examples = examples if examples is not None else self.examples(spec, split, lang)
        features = features if features is not None else self.features(
            spec, split, lang, tokenizer, settings.max_length, labels, examples)
        logits = predict_logits(model, spec.head_name, features, tokenizer.pad_token_id, settings.eval_batch_size)
        return family.score(examples, family.decode(examples, features, logits, labels, spec), lang, spec)

    def dev_scorer(self, specs, tokenizer, settings_by_task, labels_by_task, extra=None):
        """Mean headline metric over the tasks' English dev sets (model selection on English only)."""
        dev = {}
        for spec in specs:
            if "dev" in spec.sources:
                s = settings_by_task[spec.name]
                examples = self.examples(spec, "dev", "en", extra)
                dev[spec.name] = (examples, self.features(spec, "dev", "en", tokenizer, s.max_length,
                                                          labels_by_task[spec.name], examples, extra))
        if not dev:
            return None

        def score(model):
            values = [self.evaluate(model, spec, tokenizer, settings_by_task[spec.name], labels_by_task[spec.name],
                                    "en", "dev", *dev[spec.name])[spec.metric] for spec in specs if spec.name in dev]
            return sum(values) / len(values)
        return score

    # ---- phase 1 ----------------------------------------------------------------------
    def intermediate_encoder(self, model_name: str, setting: IntermediateSetting, seed: int) -> str:
        """Train the encoder on the intermediate task(s); returns the encoder to start phase 2 from."""
        if not setting.tasks and not setting.mlm_files:
            return model_name
        out = self.config.output_dir / slug(model_name) / f"{setting.name}-{digest(self.phase1_config(setting))}" / f"seed{seed}" / "intermediate"
        if (out / "encoder" / DONE).exists():
            return str(out / "encoder")
        set_seed(seed)
        encoder, tokenizer = load_encoder(model_name)
        model = MultiTaskModel(encoder)
        specs = [get_task(t) for t in setting.tasks]
        settings = {s.name: self.settings(s, self.config.intermediate_training) for s in specs}
        labels = {s.name: self.labels(s, setting.data) for s in specs}
        tasks = []
        for spec in specs:
            st = settings[spec.name]
            features = self.features(spec, "train", "en", tokenizer, st.max_length, labels[spec.name], extra=setting.data)
            if spec.head_name not in model.heads:
                model.add_head(spec.head_name, family_of(spec).head_kind, family_of(spec).num_labels(labels[spec.name], features))
            tasks.append(TrainTask(spec.name, spec.head_name, features, st.batch_size))
        first = settings[specs[0].name] if specs else self.config.intermediate_training
        if setting.mlm_files:
            tasks.append(mlm_task(self.mlm_paths(setting), tokenizer, first.max_length or 128, first.batch_size or 32,
                                  setting.mlm_probability))
            model.add_head("mlm", "mlm")
        total = first.max_steps or int(round((first.epochs or 1) * steps_per_epoch(tasks)))
        sizes = {t.name: len(t.features) for t in tasks}
        step_tasks = sample_tasks(task_probabilities(sizes, setting.sampler, setting.sampler_cap, setting.temperature), total, seed)
        accelerator = make_accelerator(first, self.config.device, multi_head=len(model.heads) > 1)
        model.to(accelerator.device)
        state = train(model, tasks, step_tasks, first, first.learning_rate or 1e-5, out, seed, tokenizer.pad_token_id,
                      accelerator, self.dev_scorer(specs, tokenizer, settings, labels, setting.data),
                      first.eval_every or steps_per_epoch(tasks), description=f"phase 1 {setting.name}")
        if accelerator.is_main_process:
            model.save_encoder(out / "encoder", tokenizer)
            (out / "train_state.json").write_text(json.dumps({"tasks": setting.tasks, **state}))
            (out / "encoder" / DONE).write_text("")
            remove_checkpoints(out)
        accelerator.wait_for_everyone()  # other ranks load the encoder the main rank just wrote
        return str(out / "encoder")

    def mlm_paths(self, setting: IntermediateSetting) -> list[Path]:
        paths = [Path(self.config.data_dir) / f for f in setting.mlm_files]  # absolute paths stay as they are
        for path in paths:
            if not path.is_file():
                raise XstiltsError(f"intermediate setting {setting.name!r}: mlm_files entry not found: {path}")
        return paths

    def phase1_config(self, setting: IntermediateSetting) -> dict:
        files = [p for t in setting.tasks for p in self.input_files(get_task(t), [], setting.data)] + self.mlm_paths(setting)
        return {"setting": setting.model_dump(mode="json"), "training": self.config.intermediate_training.model_dump(),
                "task_training": {t: self.config.task_training[t].model_dump() for t in setting.tasks if t in self.config.task_training},
                "data": {t: self.config.data.get(t, {}) for t in setting.tasks},
                "max_examples": self.config.max_examples, "file_contents": content_fingerprint(files)}

    # ---- phase 2 + zero-shot evaluation -----------------------------------------------
    def target_metrics(self, encoder_path: str, target: str, seed: int, cell_dir: Path) -> dict[str, dict[str, float]]:
        spec = get_task(target)
        languages = self.config.languages.get(target, list(spec.languages))
        if spec.family == "retrieval":
            return self.retrieval_metrics(encoder_path, spec, languages)
        settings = self.settings(spec, self.config.target_training)
        encoder, tokenizer = load_encoder(encoder_path)
        set_seed(seed)  # fresh heads are seeded too
        model = MultiTaskModel(encoder)
        labels = self.labels(spec)
        features = self.features(spec, "train", "en", tokenizer, settings.max_length, labels)
        model.add_head(spec.head_name, family_of(spec).head_kind, family_of(spec).num_labels(labels, features))
        # Targets with identical English training data and settings share one fine-tune.
        english_files = self.input_files(spec, [])  # train and dev
        finetune_key = digest({"files": [str(p) for p in english_files], "file_contents": content_fingerprint(english_files),
                               "family": spec.family, "settings": settings.model_dump(), "labels": labels,
                               "max_examples": self.config.max_examples})
        finetune_dir = cell_dir.parent / f"finetune-{finetune_key}"
        accelerator = make_accelerator(settings, self.config.device)
        model.to(accelerator.device)
        if (finetune_dir / DONE).exists():
            model.load_state_dict(torch.load(finetune_dir / BEST_WEIGHTS, weights_only=True, map_location="cpu"))
        else:
            task = TrainTask(spec.name, spec.head_name, features, settings.batch_size)
            total = settings.max_steps or int(round(settings.epochs * steps_per_epoch([task])))
            state = train(model, [task], [spec.name] * total, settings, settings.learning_rate, finetune_dir, seed,
                          tokenizer.pad_token_id, accelerator,
                          self.dev_scorer([spec], tokenizer, {spec.name: settings}, {spec.name: labels}),
                          settings.eval_every or steps_per_epoch([task]), description=f"phase 2 {target}")
            if accelerator.is_main_process:
                (finetune_dir / "train_state.json").write_text(json.dumps({"tasks": [spec.name], **state}))
                (finetune_dir / DONE).write_text("")
                remove_checkpoints(finetune_dir)
            accelerator.wait_for_everyone()
        return {lang: self.evaluate(model, spec, tokenizer, settings, labels, lang) for lang in languages}

    def retrieval_metrics(self, encoder_path: str, spec, languages) -> dict[str, dict[str, float]]:
        r = self.config.retrieval
        encoder, tokenizer = load_encoder(encoder_path)
        encoder.to(make_accelerator(TrainSettings(precision="no"), self.config.device).device)
        encode = lambda texts: embed(encoder, tokenizer, texts, r.layer, r.pooling, r.max_length, r.batch_size)
        family = family_of(spec)
        results = {}
        for lang in languages:  # a retrieval split is one corpus (one file pair), read whole
            corpora = {split: reader(path) for split in spec.sources
                       for path, reader in spec.files(self.config.data_dir, split, lang, self.overrides(spec.name))}
            results[lang] = family.score_embeddings(spec, corpora, encode)
        return results

    # ---- the grid ---------------------------------------------------------------------
    def cell_config(self, model_name, setting, target, seed) -> dict:
        spec = get_task(target)
        languages = self.config.languages.get(target, list(spec.languages))
        return {"model": model_name, "intermediate": self.phase1_config(setting), "target": target, "seed": seed,
                "target_training": self.settings(spec, self.config.target_training).model_dump(),
                "retrieval": self.config.retrieval.model_dump() if spec.family == "retrieval" else None,
                "languages": languages, "data": self.config.data.get(target, {}), "max_examples": self.config.max_examples,
                "data_dir": str(self.config.data_dir), "file_contents": content_fingerprint(self.input_files(spec, languages))}

    def cell_key(self, model_name, setting, target, seed) -> str:
        return digest(self.cell_config(model_name, setting, target, seed))

    def current_rows(self) -> list[dict]:
        """Stored rows of this config's cells only, not of earlier runs with other settings or data."""
        return self.store.rows(cell_keys=[self.cell_key(m, s, t, seed) for m, s, seed, t in self.cells()])

    def cells(self):
        for model_name in self.config.models:
            for setting in self.config.intermediate:
                for seed in self.config.seeds:
                    for target in self.config.targets:
                        yield model_name, setting, seed, target

    def run(self) -> ResultsStore:
        save_config(self.config, self.config.output_dir / "config.json", {"versions": self.versions})
        for model_name, setting, seed, target in self.cells():
            self.run_cell(model_name, setting, seed, target)
        return self.store

    def run_cell(self, model_name, setting, seed, target) -> str:
        config = self.cell_config(model_name, setting, target, seed)
        key = digest(config)  # == self.cell_key(...), without building the config twice
        if self.store.has_cell(key):
            return key
        started = time.time()
        label = f"{slug(model_name)} / {setting.name} / {target} / seed {seed}"
        self.console.log(f"cell {label}")
        seed_dir = self.config.output_dir / slug(model_name) / f"{setting.name}-{digest(self.phase1_config(setting))}" / f"seed{seed}"
        encoder_path = self.intermediate_encoder(model_name, setting, seed)
        metrics = self.target_metrics(encoder_path, target, seed, seed_dir / target)
        self.store.add_cell(key, model_name, setting.name, target, seed, metrics, config, self.versions, time.time() - started)
        return key
