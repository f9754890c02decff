"""Typed experiment configuration: YAML/JSON files plus `key.sub=value` overrides."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, field_validator

from .errors import XstiltsError


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TrainSettings(Strict):
    """Optimisation settings; None means "the task's default" from the registry."""

    learning_rate: float | None = None
    batch_size: int | None = None       # examples per step across all processes (times grad_accum per optimizer step)
    epochs: float | None = None
    max_steps: int | None = None
    max_length: int | None = None
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    grad_accum: int = 1
    max_grad_norm: float = 1.0
    precision: Literal["auto", "no", "bf16", "fp16"] = "auto"   # auto: bf16 on GPUs with it, else fp16; CPU: no
    per_device_batch_size: PositiveInt | None = None  # most rows a process runs at once; the rest accumulate
    gradient_checkpointing: bool = False
    eval_every: int | None = None       # optimizer-independent step count; None = once per epoch
    save_every: int = 500
    length_grouping: bool = True
    eval_batch_size: int = 64

    def merged(self, other: "TrainSettings | None") -> "TrainSettings":
        """self overridden by the fields that `other` sets explicitly."""
        if other is None:
            return self
        return self.model_copy(update=other.model_dump(exclude_unset=True))


class IntermediateSetting(Strict):
    """One way of training the encoder before the targets; no tasks = the baseline."""

    name: str
    tasks: list[str] = Field(default_factory=list)
    sampler: Literal["proportional", "temperature", "uniform"] = "proportional"
    sampler_cap: int | None = None        # K of examples-proportional mixing
    temperature: float = 2.0
    mlm_files: list[str] = Field(default_factory=list)  # multilingual text mixed in as MLM; relative to data_dir
    mlm_probability: float = 0.15
    data: dict[str, dict[str, str]] = Field(default_factory=dict)  # e.g. translated intermediate files


class RetrievalSettings(Strict):
    layer: int = -1                        # hidden_states index; 0 = embeddings
    pooling: Literal["mean", "cls"] = "mean"
    max_length: int = 512
    batch_size: int = 64


class ExperimentConfig(Strict):
    name: str = "xstilts"
    output_dir: Path = Path("runs/xstilts")
    data_dir: Path = Path("data")
    models: list[str]
    intermediate: list[IntermediateSetting] = Field(default_factory=lambda: [IntermediateSetting(name="baseline")])
    targets: list[str]
    seeds: list[int] = Field(default_factory=lambda: [1])
    data: dict[str, dict[str, str]] = Field(default_factory=dict)   # task -> split -> file template
    languages: dict[str, list[str]] = Field(default_factory=dict)   # task -> evaluation languages
    max_examples: dict[str, int] = Field(default_factory=dict)      # split -> cap (seeded subsample)
    intermediate_training: TrainSettings = Field(default_factory=TrainSettings)
    target_training: TrainSettings = Field(default_factory=TrainSettings)
    task_training: dict[str, TrainSettings] = Field(default_factory=dict)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    device: str | None = None              # None: what Accelerate picks (GPU when present)
    feature_cache: bool = True

    @field_validator("targets", "models")
    @classmethod
    def _non_empty(cls, value):
        if not value:
            raise ValueError("must name at least one entry")
        return value


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
        raise XstiltsError(f"{path or 'config'}: field {where!r}: {first['msg']}") from None


def save_config(config: ExperimentConfig, path: Path, extra: dict | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"config": config.model_dump(mode="json"), **(extra or {})}, indent=2))
