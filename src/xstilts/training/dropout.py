"""The `dropout` training setting: one probability for every dropout of the model, or the model's own."""

from __future__ import annotations

from torch import nn


def set_dropout(model: nn.Module, probability: float | None) -> None:
    """Every nn.Dropout of encoder and heads at `probability` (HF attention reads its module's p too);
    None keeps the model's own. The saved encoder's config is untouched, so each phase sets its own."""
    if probability is None:
        return
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = probability
