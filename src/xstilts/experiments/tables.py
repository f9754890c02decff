"""Per-language tables: baseline beside each intermediate setting, with the change."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from statistics import mean

from rich.table import Table

from ..tasks.registry import get_task

BASELINE = "baseline"


def headline(rows: list[dict]) -> dict:
    """(model, target, setting, language) -> mean over seeds of the target's headline score."""
    metrics = defaultdict(dict)
    for row in rows:
        metrics[(row["model"], row["target"], row["intermediate"], row["language"], row["seed"])][row["metric"]] = row["value"]
    values = defaultdict(list)
    for (model, target, setting, lang, _), by_metric in metrics.items():
        values[(model, target, setting, lang)].append(get_task(target).headline_value(by_metric))
    return {key: mean(v) for key, v in values.items()}


def comparison_tables(rows: list[dict], baseline: str = BASELINE) -> list[Table]:
    scores = headline(rows)
    tables = []
    for model, target in sorted({(m, t) for m, t, _, _ in scores}):
        settings = sorted({s for m, t, s, _ in scores if (m, t) == (model, target)}, key=lambda s: (s != baseline, s))
        languages = sorted({l for m, t, _, l in scores if (m, t) == (model, target)})
        # the folder name keeps the title within the table's width; the store keeps the full path
        table = Table(title=f"{target} ({get_task(target).headline_name}) - {Path(model).name or model}")
        table.add_column("lang")
        for setting in settings:
            table.add_column(setting, justify="right")
            if setting != baseline and baseline in settings:
                table.add_column(f"Δ {setting}", justify="right")
        for lang in languages + ["avg"]:
            cells = [lang]
            for setting in settings:
                if lang == "avg":
                    per_lang = [scores[(model, target, setting, l)] for l in languages if (model, target, setting, l) in scores]
                    value = mean(per_lang) if per_lang else None
                    base = mean(scores[(model, target, baseline, l)] for l in languages) if baseline in settings else None
                else:
                    value = scores.get((model, target, setting, lang))
                    base = scores.get((model, target, baseline, lang))
                cells.append("-" if value is None else f"{value:.1f}")
                if setting != baseline and baseline in settings:
                    cells.append("-" if value is None or base is None else f"{value - base:+.1f}")
            table.add_row(*cells, end_section=lang == languages[-1])
        tables.append(table)
    return tables
