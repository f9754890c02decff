"""The one place that names every task: family, role, languages, files, metric and defaults."""

from __future__ import annotations

from ..errors import UnknownNameError
from . import classification, multiple_choice, qa, retrieval, tagging
from .base import TaskSpec
from .family import Family

FAMILIES: dict[str, Family] = {
    "classification": classification.ClassificationFamily(),
    "multiple_choice": multiple_choice.MultipleChoiceFamily(),
    "span_qa": qa.SpanQAFamily(),
    "tagging": tagging.TaggingFamily(),
    "bitext_mining": retrieval.BitextMiningFamily(),
    "similarity_search": retrieval.SimilaritySearchFamily(),
}

TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for module in (classification, multiple_choice, qa, tagging, retrieval)
    for spec in module.TASKS
}

# task -> where `xstilts data fetch` gets its files (data/sources.py)
DOWNLOADS: dict[str, tuple] = {
    name: declaration
    for module in (classification, multiple_choice, qa, tagging, retrieval)
    for name, declaration in module.DOWNLOADS.items()
}

INTERMEDIATE_TASKS = [name for name, spec in TASKS.items() if spec.role == "intermediate"]
TARGET_TASKS = [name for name, spec in TASKS.items() if spec.role == "target"]


def get_task(name: str) -> TaskSpec:
    if name not in TASKS:
        raise UnknownNameError("task", name, TASKS)
    return TASKS[name]


def family_of(spec: TaskSpec) -> Family:
    return FAMILIES[spec.family]
