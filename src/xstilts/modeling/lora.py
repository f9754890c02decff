"""LoRA (through `peft`) on the encoder of a phase; the heads stay fully trained.

An intermediate phase's adapter is merged into the encoder it saves, so the target phase starts from a
plain HF encoder (and may add a LoRA adapter of its own): the adapters are merged, not stacked.
"""

from __future__ import annotations

from ..config import LoraSettings
from ..errors import XstiltsError


def with_lora(encoder, lora: LoraSettings | None):
    """The encoder with trainable LoRA matrices on `lora.target_modules` and everything else frozen."""
    if lora is None:
        return encoder
    from peft import LoraConfig, get_peft_model

    try:
        return get_peft_model(encoder, LoraConfig(r=lora.rank, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                                                  target_modules=list(lora.target_modules)))
    except ValueError as err:  # peft names the modules it did not find in this architecture
        raise XstiltsError(f"lora.target_modules {lora.target_modules}: {str(err).splitlines()[0]}") from None


def merged(encoder):
    """A plain encoder with any LoRA adapter folded into its weights."""
    from peft import PeftModel

    return encoder.merge_and_unload() if isinstance(encoder, PeftModel) else encoder


def trainable_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
