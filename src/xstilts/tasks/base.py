"""What a task is: its data files, reader, languages, head, metric and default hyper-parameters."""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import DataFormatError, XstiltsError


HEADLINE_NAMES = {"exact_match": "EM", "exact": "EM", "f1": "F1"}


@dataclass(frozen=True)
class Source:
    """One file (path template relative to the data dir) and the reader for its format.

    Templates may use {lang} (the XTREME language code), {lang3} (a task-specific code,
    e.g. Tatoeba's ISO 639-3) and glob wildcards (UD: every treebank of a language).
    """

    template: str
    reader: Callable


DEFAULT_LAYOUT = "xstilts"  # the paths in TaskSpec.sources, which `xstilts data fetch` writes


@dataclass(frozen=True)
class TaskSpec:
    name: str
    family: str                      # classification | multiple_choice | span_qa | tagging | retrieval
    role: str                        # intermediate | target
    languages: tuple[str, ...]       # evaluation languages (training is English)
    sources: dict[str, tuple[Source, ...]]  # split -> files concatenated in order
    # metric keys whose mean is the task's one headline score: model selection on English dev,
    # tables, report, XTREME score and benchmarks all read it (QA: (EM + F1) / 2, as XTREME scores it)
    headline: tuple[str, ...]
    labels: tuple[str, ...] | None = None   # None: read from label_file or collected from train data
    label_file: str | None = None
    head: str | None = None          # head name; tasks sharing one (ANLI+ parts) give the same name
    max_length: int | None = 256     # training defaults; None for tasks that train nothing (retrieval)
    batch_size: int | None = 32
    epochs: float | None = 3.0
    learning_rate: float | None = 2e-5
    lang_codes: dict[str, str] = field(default_factory=dict)  # lang -> {lang3}
    options: dict = field(default_factory=dict)  # family-specific switches, e.g. MLQA normalisation
    description: str = ""
    # Other layouts read too (e.g. XTREME's processed files); the first one with files on disk is used.
    layouts: dict[str, dict[str, tuple[Source, ...]]] = field(default_factory=dict)

    @property
    def headline_name(self) -> str:
        if len(self.headline) == 1:
            return self.headline[0]
        return f"({' + '.join(HEADLINE_NAMES.get(k, k) for k in self.headline)}) / {len(self.headline)}"

    def headline_value(self, metrics: dict[str, float]) -> float:
        missing = [k for k in self.headline if k not in metrics]
        if missing:
            raise KeyError(f"{self.name}: missing headline metric(s) {missing}; has {sorted(metrics)}")
        return sum(float(metrics[k]) for k in self.headline) / len(self.headline)

    @property
    def head_name(self) -> str:
        return self.head or self.name

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(self.sources)

    def layout(self, data_dir: str | Path) -> str:
        """Name of the layout found in data_dir: the first with any file present (`sources` first)."""
        for name, split_sources in {DEFAULT_LAYOUT: self.sources, **self.layouts}.items():
            patterns = [Path(data_dir) / s.template.format(lang="*", lang3="*")
                        for pairs in split_sources.values() for s in pairs]
            if any(glob.glob(str(p)) for p in patterns):
                return name
        return DEFAULT_LAYOUT

    def layout_sources(self, data_dir: str | Path) -> dict[str, tuple[Source, ...]]:
        return self.layouts.get(self.layout(data_dir), self.sources)

    def files(self, data_dir: str | Path, split: str, lang: str = "en",
              overrides: dict[str, str] | None = None) -> list[tuple[Path, Callable]]:
        """Resolve (path, reader) pairs of one split/language; an override template replaces the
        split's default files and is read with the split's first reader."""
        if split not in self.sources:
            raise XstiltsError(f"task {self.name!r} has no {split!r} split; it has: {', '.join(self.sources)}")
        pairs = self.layout_sources(data_dir)[split]
        if overrides and split in overrides:
            pairs = (Source(overrides[split], pairs[0].reader),)
        found: list[tuple[Path, Callable]] = []
        for source in pairs:
            pattern = str(Path(data_dir) / source.template.format(lang=lang, lang3=self.lang_codes.get(lang, lang)))
            matches = sorted(glob.glob(pattern)) if any(c in pattern for c in "*?[") else [pattern]
            if not matches or not Path(matches[0]).exists():
                raise XstiltsError(f"task {self.name!r} {split}/{lang}: data file not found: {pattern}")
            found.extend((Path(m), source.reader) for m in matches)
        return found

    def read(self, data_dir: str | Path, split: str, lang: str = "en",
             overrides: dict[str, str] | None = None) -> list:
        """Read and concatenate the examples of one split/language; every file must hold examples,
        labelled ones for training and model selection."""
        examples = []
        for path, reader in self.files(data_dir, split, lang, overrides):
            read = reader(path)
            if not read:
                raise DataFormatError(path, None, f"no examples (task {self.name!r}, {split} split)")
            if split != "test" and any(_unlabelled(ex) for ex in read):
                raise DataFormatError(path, None, f"examples without gold labels; the {split} split of "
                                                  f"task {self.name!r} needs them")
            examples.extend(read)
        return examples


def _unlabelled(example) -> bool:
    """Label-free test rows of the classification, multiple-choice and tagging formats."""
    return getattr(example, "label", "") is None or getattr(example, "tags", "") is None


def sources(*pairs) -> tuple[Source, ...]:
    """sources(("a.json", reader), ("b.json", reader)) -> tuple of Source."""
    return tuple(Source(t, r) for t, r in pairs)
