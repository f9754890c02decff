"""Per-example results: what each test example contributes to a metric ("units") and its prediction.

A family declares its units beside its `score` and, in `unit_metrics`, how each metric is recomputed
from any sample of them; significance resamples test examples through this. The recomputations are
vectorised: unit arrays of shape [..., n] give metric values of shape [...].
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import Callable

import numpy as np

UnitMetric = Callable[[dict[str, np.ndarray]], np.ndarray]


@dataclass
class PerExample:
    ids: list[str]                      # example ids, in test-file order (the same in every cell)
    predictions: list                   # answer text, tag sequence, label, retrieved index ...
    units: dict[str, list[float]]       # unit name -> one value per example

    def to_blob(self) -> bytes:
        return zlib.compress(json.dumps({"ids": self.ids, "predictions": self.predictions, "units": self.units},
                                        ensure_ascii=False).encode())

    @classmethod
    def from_blob(cls, blob: bytes) -> "PerExample":
        return cls(**json.loads(zlib.decompress(blob)))


def mean_of(unit: str) -> UnitMetric:
    """A metric that is the mean of a 0/1 (or 0..1) unit, in percent: accuracy, EM, F1 per question."""
    return lambda units: 100.0 * np.mean(units[unit], axis=-1)


def span_f1(units: dict[str, np.ndarray]) -> np.ndarray:
    """seqeval's micro span F1 from summed per-sentence counts: 2 tp / (predicted + gold); 0 without spans."""
    tp = np.sum(units["tp"], axis=-1)
    spans = np.sum(units["n_pred"], axis=-1) + np.sum(units["n_true"], axis=-1)
    return 100.0 * np.divide(2 * tp, spans, out=np.zeros_like(tp, dtype=float), where=spans > 0)


def recompute(unit_metrics: dict[str, UnitMetric], units: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every metric a family can recompute, from units (arrays [..., n])."""
    arrays = {name: np.asarray(values, dtype=float) for name, values in units.items()}
    return {metric: compute(arrays) for metric, compute in unit_metrics.items()}
