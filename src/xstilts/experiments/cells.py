"""Planning: everything a cell (model x intermediate setting x target x seed) needs, worked out once.

A `CellPlan` names the target's spec and languages, its resolved training settings, the
intermediate phase it starts from (`PhasePlan`, shared by every target of a (model, setting, seed)),
the fine-tune it shares with targets of identical English training, and the key that identifies
its result. Everything after planning reads the plan instead of working it out again.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

from ..config import ExperimentConfig, IntermediateSetting, TrainSettings
from ..data.features import content_fingerprint
from ..data.manifest import data_provenance
from ..errors import XstiltsError
from ..tasks.base import TaskSpec
from ..tasks.registry import family_of, get_task
from ..training.mlm import MLM_DEFAULTS
from .task_data import TaskData

def slug(name: str) -> str:
    """A file-name-safe, short form of a model path or setting name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name.strip("/")).strip("_")[-60:]


def digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


def task_settings(config: ExperimentConfig, spec: TaskSpec, phase: TrainSettings) -> TrainSettings:
    """The task's registry defaults, overridden by the phase's settings, then by task_training[task]."""
    defaults = TrainSettings(learning_rate=spec.learning_rate, batch_size=spec.batch_size,
                             epochs=spec.epochs, max_length=spec.max_length)
    return defaults.merged(phase).merged(config.task_training.get(spec.name))


def phase_settings(per_task: dict[str, TrainSettings], configured: TrainSettings) -> TrainSettings:
    """One setting for a whole phase. A single-task phase is that task's settings. A multi-task phase
    (several tasks, or MLM mixed in) takes what `intermediate_training` sets explicitly; a learning rate
    it leaves unset is the smallest of the tasks', epochs the largest of theirs."""
    if len(per_task) <= 1:
        return next(iter(per_task.values()), configured)
    values = list(per_task.values())
    chosen = {"learning_rate": min(s.learning_rate for s in values), "epochs": max(s.epochs for s in values)}
    return configured.model_copy(update={k: v for k, v in chosen.items() if k not in configured.model_fields_set})


@dataclass(frozen=True)
class PhasePlan:
    """The intermediate phase of one setting: its tasks and their settings, and the key of its checkpoint."""

    setting: IntermediateSetting
    specs: tuple[TaskSpec, ...]
    task_settings: dict[str, TrainSettings]   # per task, and "mlm" when MLM is mixed in
    settings: TrainSettings                   # the phase's own: learning rate, epochs/steps, precision...
    mlm_paths: tuple[Path, ...]
    config: dict                              # everything that determines the trained encoder
    key: str

    @property
    def trains(self) -> bool:
        return bool(self.task_settings)


def seed_directory(output_dir: Path, model: str, setting: str, phase_key: str, seed: int) -> Path:
    return output_dir / slug(model) / f"{setting}-{phase_key}" / f"seed{seed}"


@dataclass(frozen=True)
class CellPlan:
    model: str
    setting: IntermediateSetting
    seed: int
    spec: TaskSpec
    languages: tuple[str, ...]
    phase: PhasePlan                          # the baseline's trains nothing: it starts from the pretrained encoder
    seed_dir: Path                            # shared by every target of (model, setting, seed)
    settings: TrainSettings | None            # target fine-tuning; None for embedding-only tasks
    finetune_key: str | None                  # targets with identical English training share it
    config: dict                              # stored with the result
    key: str

    @property
    def label(self) -> str:
        return f"{slug(self.model)} / {self.setting.name} / {self.spec.name} / seed {self.seed}"

    @property
    def finetune_dir(self) -> Path:
        return self.seed_dir / f"finetune-{self.finetune_key}"


class Planner:
    """Builds plans for one config; a setting's phase plan (which hashes its files) is built once."""

    def __init__(self, config: ExperimentConfig, data: TaskData):
        self.config, self.data = config, data
        self._phases: dict[str, PhasePlan] = {}

    def spec(self, name: str) -> TaskSpec:
        """The registered task with the options the config sets for it (`task_options`)."""
        spec, chosen = get_task(name), self.config.task_options.get(name)
        if not chosen:
            return spec
        known = family_of(spec).options
        unknown = sorted(set(chosen) - set(known))
        if unknown:
            raise XstiltsError(f"task_options.{name}: unknown option(s) {', '.join(unknown)}; "
                               f"{name} takes: {', '.join(known) or 'none'}")
        spec = replace(spec, options={**spec.options, **chosen})
        for option in chosen:  # a value outside an option's choices fails here, before anything trains
            family_of(spec).option(spec, option)
        return spec

    def phase(self, setting: IntermediateSetting) -> PhasePlan:
        if setting.name not in self._phases:
            self._phases[setting.name] = self._plan_phase(setting)
        return self._phases[setting.name]

    def _plan_phase(self, setting: IntermediateSetting) -> PhasePlan:
        config = self.config
        specs = tuple(self.spec(t) for t in setting.tasks)
        per_task = {s.name: task_settings(config, s, config.intermediate_training) for s in specs}
        mlm_paths = tuple(self._mlm_path(setting, f) for f in setting.mlm_files)
        if mlm_paths:
            per_task["mlm"] = MLM_DEFAULTS.merged(config.intermediate_training).merged(config.task_training.get("mlm"))
        settings = phase_settings(per_task, config.intermediate_training)
        if not per_task:  # the baseline trains nothing: no training setting may re-run its cells
            phase_config = {"setting": setting.model_dump(mode="json")}
            return PhasePlan(setting, specs, per_task, settings, mlm_paths, phase_config, digest(phase_config))
        files = [p for s in specs for p in self.data.input_files(s, [], setting.data)] + list(mlm_paths)
        phase_config = {"setting": setting.model_dump(mode="json"), "settings": settings.model_dump(),
                        "task_settings": {t: s.model_dump() for t, s in per_task.items()},
                        "data": {t: self.config.data.get(t, {}) for t in setting.tasks},
                        "options": {s.name: s.options for s in specs},
                        "max_examples": config.max_examples, "file_contents": content_fingerprint(files)}
        return PhasePlan(setting, specs, per_task, settings, mlm_paths, phase_config, digest(phase_config))

    def _mlm_path(self, setting: IntermediateSetting, name: str) -> Path:
        path = Path(self.config.data_dir) / name  # an absolute path stays as it is
        if not path.is_file():
            raise XstiltsError(f"intermediate setting {setting.name!r}: mlm_files entry not found: {path}")
        return path

    def cell(self, model: str, setting: IntermediateSetting, seed: int, target: str) -> CellPlan:
        config, spec = self.config, self.spec(target)
        languages = tuple(config.languages.get(target, spec.languages))
        phase = self.phase(setting)
        seed_dir = seed_directory(config.output_dir, model, setting.name, phase.key, seed)
        if family_of(spec).trains:
            settings = task_settings(config, spec, config.target_training)
            english = self.data.input_files(spec, [])  # train, dev and a label file: they fix the labels too
            finetune_key = digest({"files": [str(p) for p in english], "file_contents": content_fingerprint(english),
                                   "family": spec.family, "settings": settings.model_dump(), "options": spec.options,
                                   "max_examples": config.max_examples})
            how = {"target_training": settings.model_dump()}
        else:
            settings, finetune_key = None, None
            how = {"retrieval": config.retrieval.model_dump()}
        cell_config = {"model": model, "intermediate": phase.config, "target": target, "seed": seed, **how,
                       "languages": list(languages), "options": spec.options, "data": config.data.get(target, {}),
                       "max_examples": config.max_examples, "data_dir": str(config.data_dir),
                       "file_contents": content_fingerprint(self.data.input_files(spec, languages)),
                       **data_provenance(config.data_dir, [target, *setting.tasks])}  # fetched sources and revisions
        return CellPlan(model, setting, seed, spec, languages, phase, seed_dir, settings, finetune_key,
                        cell_config, digest(cell_config))
