"""Is a setting's gain over the baseline more than noise? Paired bootstrap over test examples and seeds,
and an exact permutation test over seeds.

An arm is one (model, setting, target): a list of seeds, each {language: {unit: values per test example}}
(evaluation.units). Both arms must hold the same test examples in the same order per language, so a
bootstrap draw takes the same example indices in both arms ("paired"); the seeds of each arm are
resampled on their own, since seed i of one arm has nothing to do with seed i of the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Callable

import numpy as np

Units = dict[str, np.ndarray]
Arm = list[dict[str, Units]]          # seeds -> language -> unit -> [n examples]
Headline = Callable[[Units], np.ndarray]  # units [..., n] -> headline score [...]


@dataclass(frozen=True)
class Gain:
    delta: float                 # mean over seeds of the setting minus the baseline's
    low: float                   # paired bootstrap interval of delta
    high: float
    p: float                     # exact permutation p-value over seeds (two-sided)
    seeds: tuple[int, int]       # (baseline seeds, setting seeds)

    @property
    def significant(self) -> bool:
        """The interval excludes 0."""
        return self.low > 0 or self.high < 0


def permutation_p(baseline: list[float], setting: list[float]) -> float:
    """Exact two-sided p-value of the difference of means: the share of all relabelings of the pooled
    seed-level scores into groups of the same sizes whose |difference| is at least the observed one.
    With n seeds per arm the smallest possible value is 2 / C(2n, n) (0.1 for 3 + 3)."""
    pooled = np.asarray(list(baseline) + list(setting), dtype=float)
    n_base, total = len(baseline), pooled.sum()
    observed = abs(np.mean(setting) - np.mean(baseline))
    extreme = count = 0
    for chosen in combinations(range(len(pooled)), n_base):
        base_sum = pooled[list(chosen)].sum()
        diff = abs((total - base_sum) / len(setting) - base_sum / n_base)
        extreme += diff >= observed - 1e-9 * max(1.0, observed)  # ties count as extreme
        count += 1
    return extreme / count


def _stack(arm: Arm, lang: str) -> Units:
    """unit -> [seeds, n] for one language."""
    return {unit: np.stack([np.asarray(seed[lang][unit], dtype=float) for seed in arm]) for unit in arm[0][lang]}


def seed_scores(arm: Arm, languages: list[str], headline: Headline) -> list[float]:
    """Each seed's headline score averaged over the languages (what the report tables show)."""
    per_lang = [headline(_stack(arm, lang)) for lang in languages]  # each [seeds]
    return [float(v) for v in np.mean(per_lang, axis=0)]


def paired_bootstrap(baseline: Arm, setting: Arm, languages: list[str], headline: Headline,
                     resamples: int = 2000, seed: int = 0, level: float = 0.95, chunk: int = 200) -> tuple[float, float]:
    """Percentile interval of (setting - baseline), the language average of the seed-mean headline.

    Each draw resamples the seeds of each arm with replacement and, per language, the test examples
    with replacement, the same indices in both arms and all seeds."""
    rng = np.random.default_rng(seed)
    stacked = [{lang: _stack(arm, lang) for lang in languages} for arm in (baseline, setting)]
    draws = []
    for start in range(0, resamples, chunk):
        b = min(chunk, resamples - start)
        seed_draw = [rng.integers(0, len(arm), (b, len(arm))) for arm in (baseline, setting)]
        diff = np.zeros(b)
        for lang in languages:
            n = len(next(iter(stacked[0][lang].values()))[0])
            examples = rng.integers(0, n, (b, n))
            for sign, units, seeds in zip((-1.0, 1.0), (s[lang] for s in stacked), seed_draw):
                sampled = {u: values[seeds[:, :, None], examples[:, None, :]] for u, values in units.items()}
                diff += sign * headline(sampled).mean(axis=-1) / len(languages)  # [b, seeds] -> [b]
        draws.append(diff)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(np.concatenate(draws), [tail, 100 - tail])
    return float(low), float(high)


def gain(baseline: Arm, setting: Arm, languages: list[str], headline: Headline, resamples: int = 2000,
         seed: int = 0, level: float = 0.95) -> Gain:
    """The setting's gain over the baseline on the languages' average (one language: that language)."""
    base_scores, setting_scores = (seed_scores(arm, languages, headline) for arm in (baseline, setting))
    low, high = paired_bootstrap(baseline, setting, languages, headline, resamples, seed, level)
    return Gain(float(np.mean(setting_scores) - np.mean(base_scores)), low, high,
                permutation_p(base_scores, setting_scores), (len(baseline), len(setting)))
