"""Multi-task samplers: which task supplies the next batch (jiant's mixing strategies)."""

from __future__ import annotations

import numpy as np

from ..errors import UnknownNameError


def task_probabilities(sizes: dict[str, int], kind: str = "proportional", cap: int | None = None,
                       temperature: float = 2.0) -> dict[str, float]:
    """Examples-proportional (optionally capped at K examples), temperature (n^(1/T)), or uniform."""
    names = list(sizes)
    n = np.array([sizes[t] for t in names], dtype=float)
    if kind == "proportional":
        weights = np.minimum(n, cap) if cap else n
    elif kind == "temperature":
        weights = n ** (1.0 / temperature)
    elif kind == "uniform":
        weights = np.ones_like(n)
    else:
        raise UnknownNameError("sampler", kind, ["proportional", "temperature", "uniform"])
    weights = weights / weights.sum()
    return dict(zip(names, weights.tolist()))


def sample_tasks(probabilities: dict[str, float], steps: int, seed: int) -> list[str]:
    """The task of every step, drawn once up front so a resumed run replays the same schedule."""
    names = list(probabilities)
    rng = np.random.default_rng(seed)
    return [names[i] for i in rng.choice(len(names), size=steps, p=list(probabilities.values()))]
