"""The report's significance section: each setting's gain over the same model's baseline per target,
on the language average and per language, with a 95% paired bootstrap interval (test examples and
seeds) and an exact permutation p-value over seeds, from the per-example units every cell stores."""

from __future__ import annotations

from collections import defaultdict
from typing import Callable

import numpy as np

from ..evaluation.significance import Gain, gain
from ..evaluation.units import recompute
from ..tasks.registry import family_of, get_task
from .report import Results, Section, Table

RESAMPLES = 2000
BOOTSTRAP_SEED = 0  # the same draws every time the report is built


def unit_headline(target: str) -> Callable[[dict], np.ndarray]:
    """units [..., n] -> the target's headline score [...] (QA: (EM + F1) / 2)."""
    spec = get_task(target)
    unit_metrics = family_of(spec).unit_metrics
    return lambda units: sum(recompute(unit_metrics, units)[k] for k in spec.headline) / len(spec.headline)


def fmt_gain(g: Gain) -> str:
    return f"{g.delta:+.1f} [{g.low:+.1f}, {g.high:+.1f}]" + (" ✓" if g.significant else "")


def significance_section(r: Results, rows: list[dict], examples: Callable[[str], dict]) -> Section:
    """examples(cell_key) -> {language: PerExample} (ResultsStore.examples)."""
    section = Section("Significance of gains", (
        f"Gain over the same model's **{r.baseline}** (mean over seeds) with its 95% interval from a paired bootstrap "
        f"({RESAMPLES} draws, seed {BOOTSTRAP_SEED}) that resamples each arm's seeds and, per language, the test examples "
        "with the same indices in both arms; p is the exact two-sided permutation p-value over the seed-level scores "
        "(all relabelings between the two arms; 3 + 3 seeds cannot go below 0.1). ✓ marks a gain whose interval excludes 0. "
        "Seeds: baseline + setting; with one seed per arm the interval covers test-example noise only."))
    keys = {(row["model"], row["intermediate"], row["target"], row["seed"]): row["cell_key"] for row in rows}
    others = [s for s in r.settings if s != r.baseline]
    if not r.baseline or not others:
        section.intro = "No baseline and intermediate settings to compare."
        return section
    skipped = []
    for model in r.models:
        summary, language_tables = [], []
        for target in r.targets:
            if not family_of(get_task(target)).unit_metrics:
                skipped.append(f"{target} (its metric does not decompose over examples)")
                continue
            arms = {s: [examples(keys[(model, s, target, seed)]) for seed in r.seeds(model, s, target)]
                    for s in r.settings}
            languages = [lang for lang in r.headline_languages(model, target)
                         if all(lang in seed for arm in arms.values() for seed in arm)]
            if not languages or not all(arms.values()):
                skipped.append(f"{target} – {r.names[model]} (no per-example results stored)")
                continue
            headline = unit_headline(target)
            units = {s: [{lang: per_seed[lang].units for lang in languages} for per_seed in arm] for s, arm in arms.items()}
            per_lang = defaultdict(list)
            for setting in others:
                average = gain(units[r.baseline], units[setting], languages, headline, RESAMPLES, BOOTSTRAP_SEED)
                summary.append([setting, target, fmt_gain(average), f"{average.p:.3f}",
                                f"{average.seeds[0]} + {average.seeds[1]}"])
                for lang in languages:
                    per_lang[lang].append(fmt_gain(gain(units[r.baseline], units[setting], [lang], headline,
                                                        RESAMPLES, BOOTSTRAP_SEED)))
            language_tables.append(Table(f"{target} per language – {r.names[model]}", ["language"] + [f"Δ {s}" for s in others],
                                        [[lang] + cells for lang, cells in per_lang.items()]))
        if summary:
            section.blocks += [Table(f"Language average – {r.names[model]}",
                                     ["setting", "target", "Δ [95% interval]", "p (seeds)", "seeds"], summary),
                               *language_tables]
    if skipped:
        section.intro += " Not tested: " + "; ".join(dict.fromkeys(skipped)) + "."
    return section
