"""XTREME score: per-task means over XTREME's languages, group means and the overall mean."""

from __future__ import annotations

from statistics import fmean

__all__ = ["TASK_GROUPS", "TASKS", "task_score", "xtreme_languages", "xtreme_score"]

TASK_GROUPS: dict[str, list[str]] = {
    "classification": ["xnli", "pawsx"],
    "structured_prediction": ["udpos", "panx"],
    "question_answering": ["xquad", "mlqa", "tydiqa"],
    "retrieval": ["bucc2018", "tatoeba"],
}
TASKS: list[str] = [task for tasks in TASK_GROUPS.values() for task in tasks]

# Headline metric keys per task; QA tasks average EM and F1.
_HEADLINE: dict[str, tuple[str, ...]] = {
    "xnli": ("accuracy",),
    "pawsx": ("accuracy",),
    "udpos": ("f1",),
    "panx": ("f1",),
    "xquad": ("exact_match", "f1"),
    "mlqa": ("exact_match", "f1"),
    "tydiqa": ("exact_match", "f1"),
    "bucc2018": ("f1",),
    "tatoeba": ("accuracy",),
}


def task_score(metrics_by_lang: dict[str, dict[str, float]], task: str) -> float:
    """Mean over languages of the task's headline metric (QA: (EM + F1) / 2)."""
    if task not in _HEADLINE:
        raise ValueError(f"unknown XTREME task {task!r}; expected one of {TASKS}")
    if not metrics_by_lang:
        raise ValueError(f"no languages to score for {task}")
    keys = _HEADLINE[task]
    per_lang = []
    for lang, metrics in metrics_by_lang.items():
        missing = [k for k in keys if k not in metrics]
        if missing:
            raise KeyError(f"{task}/{lang}: missing metric(s) {missing}; has {sorted(metrics)}")
        per_lang.append(fmean(float(metrics[k]) for k in keys))
    return fmean(per_lang)


def xtreme_languages(task: str) -> tuple[str, ...]:
    """The languages XTREME scores `task` on: the task registry's `languages`."""
    from ..tasks.registry import get_task  # the registry imports the metric modules

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
