"""XTREME score: per-task means over XTREME's languages, group means and the overall mean."""

from __future__ import annotations

from statistics import fmean

from ..tasks.registry import get_task

__all__ = ["TASK_GROUPS", "TASKS", "task_score", "xtreme_languages", "xtreme_score"]

TASK_GROUPS: dict[str, list[str]] = {
    "classification": ["xnli", "pawsx"],
    "structured_prediction": ["udpos", "panx"],
    "question_answering": ["xquad", "mlqa", "tydiqa"],
    "retrieval": ["bucc2018", "tatoeba"],
}
TASKS: list[str] = [task for tasks in TASK_GROUPS.values() for task in tasks]

def task_score(metrics_by_lang: dict[str, dict[str, float]], task: str) -> float:
    """Mean over languages of the task's headline score (the registry's; QA: (EM + F1) / 2)."""
    if task not in TASKS:
        raise ValueError(f"unknown XTREME task {task!r}; expected one of {TASKS}")
    if not metrics_by_lang:
        raise ValueError(f"no languages to score for {task}")
    spec = get_task(task)
    return fmean(spec.headline_value(metrics) for metrics in metrics_by_lang.values())


def xtreme_languages(task: str) -> tuple[str, ...]:
    """The languages XTREME scores `task` on: the task registry's `languages`."""
    return get_task(task).languages


def xtreme_score(results: dict[str, dict[str, dict[str, float]]]) -> dict:
    """Aggregate {task: {lang: metrics}} into task, group and overall scores.

    A task's score averages exactly XTREME's languages for it (`xtreme_languages`): extra
    languages are left out, and a task lacking one of them has no score and counts as missing.
    Where the languages given differ from XTREME's, their mean is reported beside it in
    "not_comparable" ({task: score over the languages given}).
    Groups average the tasks scored in them (a group with none is left out);
    "overall" is the mean of the nine task scores, or None until all are present.
    """
    unknown = sorted(set(results) - set(TASKS))
    if unknown:
        raise ValueError(f"unknown XTREME task(s) {unknown}; expected names from {TASKS}")
    tasks, not_comparable = {}, {}
    for task in TASKS:
        given, languages = results.get(task) or {}, xtreme_languages(task)
        if given and set(languages) <= set(given):
            tasks[task] = task_score({lang: given[lang] for lang in languages}, task)
        if given and set(given) != set(languages):
            not_comparable[task] = task_score(given, task)
    groups = {
        group: fmean(tasks[t] for t in members if t in tasks)
        for group, members in TASK_GROUPS.items()
        if any(t in tasks for t in members)
    }
    missing = [t for t in TASKS if t not in tasks]
    overall = fmean(tasks.values()) if not missing else None
    return {"tasks": tasks, "groups": groups, "overall": overall, "missing": missing, "not_comparable": not_comparable}
