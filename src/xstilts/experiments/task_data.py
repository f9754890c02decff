"""A config's view of the data: which files a task reads, its examples, labels and cached features."""

from __future__ import annotations

import random
from pathlib import Path

from ..config import ExperimentConfig
from ..data.check import split_languages
from ..data.features import cached_features, file_fingerprint, tokenizer_fingerprint
from ..data.readers import read_tag_vocab
from ..progress import working
from ..tasks.registry import family_of

Overrides = dict[str, dict[str, str]]  # task -> split -> file template (an intermediate setting's own data)


class TaskData:
    def __init__(self, config: ExperimentConfig):
        self.config = config

    def overrides(self, task: str, extra: Overrides | None = None) -> dict[str, str]:
        return {**self.config.data.get(task, {}), **(extra or {}).get(task, {})}

    def files(self, spec, split: str, lang: str = "en", extra: Overrides | None = None):
        return spec.files(self.config.data_dir, split, lang, self.overrides(spec.name, extra))

    def examples(self, spec, split: str, lang: str = "en", extra: Overrides | None = None) -> list:
        examples = spec.read(self.config.data_dir, split, lang, self.overrides(spec.name, extra))
        cap = self.config.max_examples.get(split)
        if cap and len(examples) > cap:  # the same subsample for every model, seed and setting
            keep = sorted(random.Random(f"{spec.name}/{split}/{lang}").sample(range(len(examples)), cap))
            examples = [examples[i] for i in keep]
        return examples

    def features(self, spec, split, lang, tokenizer, max_length, labels, examples=None, extra: Overrides | None = None):
        """Cached features of one split; examples are read only on a cache miss unless given."""
        files = [p for p, _ in self.files(spec, split, lang, extra)]
        key = {"task": spec.name, "split": split, "lang": lang, "files": file_fingerprint(files),
               "cap": self.config.max_examples.get(split), "tokenizer": tokenizer_fingerprint(tokenizer),
               "max_length": max_length, "labels": labels, "options": spec.options}
        def build():
            with working(f"features {spec.name} {split} {lang}"):
                return family_of(spec).featurize(examples if examples is not None else self.examples(spec, split, lang, extra),
                                                 tokenizer, max_length, labels, spec)
        return cached_features(key, build, self.config.feature_cache)

    def input_files(self, spec, languages, extra: Overrides | None = None) -> list[Path]:
        """Every file a phase of this task reads: English train/dev, and each language's test (or
        retrieval) files. Their contents go into the cell keys, so a file edited in place re-runs its cells."""
        label_file = [self.label_file(spec, extra)] if spec.label_file else []
        return [path for split, lang in split_languages(spec, languages)
                for path, _ in self.files(spec, split, lang, extra)] + label_file

    def label_file(self, spec, extra: Overrides | None = None) -> Path:
        return Path(self.config.data_dir) / self.overrides(spec.name, extra).get("labels", spec.label_file)

    def labels(self, spec, extra: Overrides | None = None) -> list[str] | None:
        if spec.label_file:
            return read_tag_vocab(self.label_file(spec, extra))
        family = family_of(spec)
        return family.label_list(spec, [] if spec.labels else self.examples(spec, "train", "en", extra))
