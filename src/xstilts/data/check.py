"""`xstilts data check`: every file a config (or every task) reads exists, parses, carries gold
labels and matches the example counts in MANIFEST.json. `xstilts run` and `grid` run it first."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import XstiltsError
from ._io import LABELS_MISSING
from .examples import RetrievalCorpus
from .manifest import read_manifest


def _any_unlabelled(attribute: str):
    return lambda examples: any(getattr(e, attribute) is None for e in examples)


# family -> does this file lack its gold labels? (QA: all answers empty; BUCC: no gold pairs)
UNLABELLED = {
    "classification": _any_unlabelled("label"),
    "multiple_choice": _any_unlabelled("label"),
    "tagging": _any_unlabelled("tags"),
    "span_qa": lambda examples: all(not e.answers for e in examples),
    "bitext_mining": lambda corpus: not corpus.gold,
    "similarity_search": lambda corpus: not corpus.gold,
}


def size(data) -> int:
    return len(data.src_ids) if isinstance(data, RetrievalCorpus) else len(data)


def split_languages(spec, languages) -> list[tuple[str, str]]:
    """(split, language) pairs a run reads: English train/dev, every language's test (and retrieval) split."""
    from ..tasks.registry import family_of  # the registry imports the readers, which import this package

    return [(split, lang) for split in spec.sources
            for lang in (languages if split == "test" or not family_of(spec).trains else ["en"])]


@dataclass
class TaskReport:
    task: str
    layout: str
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> lang -> examples
    problems: list[str] = field(default_factory=list)


def check_task(data_dir: Path, spec, languages, overrides: dict | None = None, manifest: dict | None = None) -> TaskReport:
    report = TaskReport(spec.name, spec.layout(data_dir))
    recorded = (manifest or {}).get("tasks", {}).get(spec.name, {})
    for split, lang in split_languages(spec, languages):
        try:
            files = spec.files(data_dir, split, lang, overrides)
        except XstiltsError as err:
            report.problems.append(str(err))
            continue
        total = 0
        for path, reader in files:
            try:
                data = reader(path)
            except XstiltsError as err:
                report.problems.append(str(err))
                continue
            if not size(data):
                report.problems.append(f"{path}: no examples (task {spec.name!r}, {split} split)")
            elif UNLABELLED[spec.family](data):  # XTREME's download strips test labels; other splits have no excuse
                report.problems.append(f"{path}: {LABELS_MISSING}" if split == "test" else
                                       f"{path}: examples without gold labels; the {split} split of task {spec.name!r} needs them")
            total += size(data)
        report.counts.setdefault(split, {})[lang] = total
        expected = recorded.get("counts", {}).get(split, {}).get(lang)
        if expected is not None and recorded.get("layout") == report.layout and split not in (overrides or {}) \
                and expected != total:
            report.problems.append(f"{files[0][0]}: {total} examples but MANIFEST.json records {expected} "
                                   f"({spec.name} {split}/{lang})")
    return report


def check_tasks(data_dir: str | Path, tasks) -> list[TaskReport]:
    """tasks: (name, languages, file overrides) triples; a task read with two sets of overrides is checked twice."""
    from ..tasks.registry import get_task

    data_dir = Path(data_dir)
    manifest = read_manifest(data_dir)
    return [check_task(data_dir, get_task(name), languages, overrides, manifest) for name, languages, overrides in tasks]


def config_tasks(config) -> list[tuple[str, list[str], dict]]:
    """Every task a config reads, with its evaluation languages and file overrides (each distinct pair once)."""
    from ..tasks.registry import get_task

    tasks = [(name, ["en"], {**config.data.get(name, {}), **setting.data.get(name, {})})
             for setting in config.intermediate for name in setting.tasks]
    tasks += [(name, config.languages.get(name, list(get_task(name).languages)), config.data.get(name, {}))
              for name in config.targets]
    return [task for i, task in enumerate(tasks) if task not in tasks[:i]]


def check_config(config) -> list[TaskReport]:
    return check_tasks(config.data_dir, config_tasks(config))


def require_data(config) -> None:
    """Stop before any training when a file the config reads is missing, malformed or unlabelled."""
    problems = [p for report in check_config(config) for p in report.problems]
    if problems:
        raise XstiltsError("\n".join(problems))
