"""Typed experiment configuration: YAML/JSON files plus `key.sub=value` overrides."""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path, PurePath
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import XstiltsError

Positive = Annotated[int, Field(ge=1)]
PositiveFloat = Annotated[float, Field(gt=0)]
# Setting names become folder names under output_dir: no separators, no "..", nothing hidden.
PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,59}")
LANGUAGE_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
SPLITS = ("train", "dev", "test")


def _registry():
    from .tasks.registry import TASKS  # the registry imports the readers; config must load first
    return TASKS


def _known(kind: str, names, valid) -> None:
    for name in names:
        if name not in valid:
            raise ValueError(f"unknown {kind} {name!r}; valid choices: {', '.join(sorted(valid))}")


def _task_name(name: str) -> str:
    _known("task", [name], _registry())
    return name


def _task_or_mlm(name: str) -> str:
    return name if name == "mlm" else _task_name(name)  # MLM mixed into a phase has settings of its own


def _language_code(code: str) -> str:
    if not LANGUAGE_CODE.fullmatch(code):  # codes fill {lang} in file templates: no path characters
        raise ValueError(f"{code!r} is not a language code")
    return code


def _inside_data_dir(path: str) -> str:
    """Relative paths (data templates, mlm_files) stay inside data_dir; an absolute one is read as written."""
    if ".." in PurePath(path).parts:
        raise ValueError(f"{path!r} leaves data_dir ('..'); write an absolute path to read outside it")
    return path


def _check_data(data: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    tasks = _registry()
    _known("task", data, tasks)
    for task, splits in data.items():
        spec = tasks[task]
        _known(f"{task} data key", splits, [*spec.sources, *(["labels"] if spec.label_file else [])])
        for template in splits.values():
            _inside_data_dir(template)
    return data


TaskName = Annotated[str, AfterValidator(_task_name)]
TaskOrMLM = Annotated[str, AfterValidator(_task_or_mlm)]
LanguageCode = Annotated[str, AfterValidator(_language_code)]
DataPath = Annotated[str, AfterValidator(_inside_data_dir)]
DataOverrides = Annotated[dict[str, dict[str, str]], AfterValidator(_check_data)]  # task -> split -> file template




class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoraSettings(Strict):
    """LoRA on the encoder (modeling/lora.py); an intermediate phase's adapter is merged before the target phase."""

    rank: Positive = 8
    alpha: PositiveFloat = 16.0
    dropout: Annotated[float, Field(ge=0, lt=1)] = 0.0
    target_modules: list[str] = Field(default_factory=lambda: ["query", "value"], min_length=1)  # LoRA paper's


class TrainSettings(Strict):
    """Optimisation settings; None means "the task's default" from the registry."""

    learning_rate: PositiveFloat | None = None
    batch_size: Positive | None = None  # examples per step across all processes (times grad_accum per optimizer step)
    epochs: PositiveFloat | None = None
    max_steps: Positive | None = None
    max_length: Annotated[int, Field(ge=8)] | None = None
    warmup_ratio: Annotated[float, Field(ge=0, le=1)] = 0.1
    weight_decay: Annotated[float, Field(ge=0)] = 0.01
    grad_accum: Positive = 1
    max_grad_norm: PositiveFloat = 1.0
    # auto: bf16 on GPUs with it, else fp16; on CPUs bf16 where they multiply it natively, else no
    precision: Literal["auto", "no", "bf16", "fp16"] = "auto"
    per_device_batch_size: Positive | None = None  # most rows a process runs at once; the rest accumulate
    gradient_checkpointing: bool = False
    eval_every: Positive | None = None  # optimizer-independent step count; None = once per epoch
    save_every: Positive = 500
    length_grouping: bool = True
    # word-embedding updates: "sparse" = only the rows a batch uses, equal to dense AdamW (training/sparse_adamw.py)
    embedding_optimizer: Literal["dense", "sparse"] = "dense"
    freeze_embeddings: bool = False
    # None: the model's own dropout (the recipe); a number sets every dropout of encoder and heads (0 = none)
    dropout: Annotated[float, Field(ge=0, lt=1)] | None = None
    # how dropout masks are drawn: "int16" = the same dropout from 16-bit draws and blockwise attention dropout,
    # x1.5-1.9 faster length-384 steps on CPUs (training/dropout.py); "auto" = int16 on CPUs, torch's own on GPUs
    dropout_masks: Literal["auto", "torch", "int16"] = "auto"
    eval_batch_size: Positive = 64
    lora: LoraSettings | None = None  # None: full fine-tuning

    @model_validator(mode="after")
    def _lora_freezes_embeddings(self):
        if self.lora is not None and self.embedding_optimizer == "sparse":
            raise ValueError("lora freezes the word embeddings; embedding_optimizer: sparse has nothing to update")
        return self

    def merged(self, other: "TrainSettings | None") -> "TrainSettings":
        """self overridden by the fields that `other` sets explicitly."""
        if other is None:
            return self
        # the set values themselves: a dump would turn a nested `lora` into a dict
        return self.model_copy(update={name: getattr(other, name) for name in other.model_fields_set})


class IntermediateSetting(Strict):
    """One way of training the encoder before the targets; no tasks = the baseline."""

    name: str
    tasks: list[TaskName] = Field(default_factory=list)
    sampler: Literal["proportional", "temperature", "uniform"] = "proportional"
    sampler_cap: Positive | None = None   # K of examples-proportional mixing
    temperature: PositiveFloat = 2.0
    mlm_files: list[DataPath] = Field(default_factory=list)  # multilingual text mixed in as MLM; relative to data_dir
    mlm_probability: Annotated[float, Field(gt=0, lt=1)] = 0.15
    data: DataOverrides = Field(default_factory=dict)  # e.g. translated intermediate files

    @field_validator("name")
    @classmethod
    def _plain_name(cls, name):
        if not PLAIN_NAME.fullmatch(name) or name in (".", ".."):
            raise ValueError(f"{name!r} is not a plain name (letters, digits, _ . + -; up to 60; "
                             "it names a folder under output_dir)")
        return name



class RetrievalSettings(Strict):
    layer: int = -1                        # hidden_states index; 0 = embeddings, negative = from the last layer
    layers: dict[str, int] = Field(default_factory=dict)  # per model (as named in models:), overrides layer
    pooling: Literal["mean", "cls"] = "mean"
    max_length: Positive = 512
    batch_size: Positive = 64


class TrackingSettings(Strict):
    """Where training progress goes besides each phase's run.log; it changes no result (not in cell keys)."""

    report_to: list[Literal["tensorboard", "wandb", "mlflow"]] = Field(default_factory=list)  # Accelerate's log_with
    log_every: Positive = 10  # steps per logged loss / learning rate / tokens-per-second point


class ExperimentConfig(Strict):
    name: str = "xstilts"
    output_dir: Path = Path("runs/xstilts")
    data_dir: Path = Path("data")
    models: list[str]
    intermediate: list[IntermediateSetting] = Field(default_factory=lambda: [IntermediateSetting(name="baseline")])
    targets: list[TaskName]
    seeds: list[int] = Field(default_factory=lambda: [1])
    data: DataOverrides = Field(default_factory=dict)
    languages: dict[TaskName, list[LanguageCode]] = Field(default_factory=dict)  # task -> evaluation languages
    max_examples: dict[Literal[SPLITS], Positive] = Field(default_factory=dict)  # split -> cap (seeded subsample)
    intermediate_training: TrainSettings = Field(default_factory=TrainSettings)
    target_training: TrainSettings = Field(default_factory=TrainSettings)
    task_training: dict[TaskOrMLM, TrainSettings] = Field(default_factory=dict)  # per task, and "mlm"
    task_options: dict[TaskName, dict[str, Any]] = Field(default_factory=dict)  # task -> option -> value (`xstilts tasks` lists them)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    tracking: TrackingSettings = Field(default_factory=TrackingSettings)
    device: str | None = None              # None: what Accelerate picks (GPU when present)
    feature_cache: bool = True
    # Which sub-token of a word carries its tag: XTREME's first one, or the first with characters of
    # the word (XLM-R tokenizers start every ja/zh word with a bare "▁", where XTREME's labels land).

    @field_validator("models")
    @classmethod
    def _model_paths(cls, models):
        models = [os.path.expanduser(m) for m in models]  # a local "~/models/x" is the user's folder
        for model in models:
            if model.strip("/") in ("", ".", ".."):
                raise ValueError(f"{model!r}: name the model directory itself")
        return models

    @field_validator("output_dir", "data_dir")
    @classmethod
    def _expand_home(cls, path):
        return path.expanduser()

    @field_validator("targets", "models", "intermediate", "seeds")
    @classmethod
    def _non_empty_and_unique(cls, value):  # after _model_paths: "~/m" and "/home/me/m" are one model
        if not value:
            raise ValueError("must name at least one entry (an empty list would run nothing)")
        names = [getattr(entry, "name", entry) for entry in value]
        repeated = sorted({str(n) for n in names if names.count(n) > 1})
        if repeated:  # a repeated setting name would merge two settings into one table column
            raise ValueError(f"{', '.join(map(repr, repeated))} given more than once")
        return value

    @model_validator(mode="after")
    def _resolve_auto_precision(self):
        # "auto" becomes what this machine runs (bf16 here, fp32 there), so cell keys and stored configs
        # name the precision the results were computed in
        from .training.precision import auto_precision

        explicit = [s for s in self.task_training.values() if "precision" in s.model_fields_set]  # others inherit
        for settings in (self.intermediate_training, self.target_training, *explicit):
            if settings.precision == "auto":
                settings.precision = auto_precision(self.device)
        return self

    @model_validator(mode="after")
    def _layers_name_models(self):
        unknown = sorted(set(self.retrieval.layers) - set(self.models))
        if unknown:
            raise ValueError(f"retrieval.layers names {unknown}, which are not in models")
        return self


def _set_path(tree: dict, dotted: str, raw: str) -> None:
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        value = raw
    keys = dotted.split(".")
    for key in keys[:-1]:
        tree = tree.setdefault(key, {})
    tree[keys[-1]] = value


def load_config(path: str | Path | None = None, overrides: list[str] = (), base: dict | None = None) -> ExperimentConfig:
    """Read a YAML/JSON config (or start from `base`), apply `a.b=value` overrides, validate."""
    tree: dict = copy.deepcopy(base or {})  # overrides must not reach into the caller's nested dicts
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise XstiltsError(f"config file not found: {path}")
        try:
            tree = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            line = f":{mark.line + 1}" if mark else ""
            raise XstiltsError(f"{path}{line}: invalid YAML/JSON ({getattr(err, 'problem', err)})") from None
    for item in overrides:
        if "=" not in item:
            raise XstiltsError(f"override {item!r} must look like key.sub=value")
        _set_path(tree, *item.split("=", 1))
    try:
        return ExperimentConfig.model_validate(tree)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(map(str, first["loc"]))
        message = first["msg"].removeprefix("Value error, ")
        raise XstiltsError(f"{path or 'config'}: " + (f"field {where!r}: " if where else "") + message) from None


def save_config(config: ExperimentConfig, path: Path, extra: dict | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"config": config.model_dump(mode="json"), **(extra or {})}, indent=2))
