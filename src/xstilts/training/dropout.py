"""The dropout settings of a training phase: its probability (`dropout`) and how masks are drawn (`dropout_masks`).

`int16` masks keep the recipe's dropout and only draw it more cheaply: torch's CPU dropout draws one random
number per element, here each 64-bit draw gives four 16-bit ones, compared with round(p * 65536), so the
drop probability is p to within 1/131072 and kept values are scaled by the exact inverse of the keep rate.
Attention dropout needs its own attention function (Int16DropoutAttention): SDPA applies torch's dropout inside
its math path, which materialises every attention probability. On a GPU torch's dropout is fused and cheap,
so `auto` keeps it there (benchmarks/results/dropout.md).
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

INT16_ATTENTION = "xstilts_int16_dropout"  # an SDPA that draws its attention dropout as `int16` masks


def set_dropout(model: nn.Module, probability: float | None) -> None:
    """Every nn.Dropout of encoder and heads at `probability` (HF attention reads its module's p too);
    None keeps the model's own. The saved encoder's config is untouched, so each phase sets its own."""
    if probability is None:
        return
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = probability


def resolve_dropout_masks(setting: str, device: torch.device) -> str:
    """What `dropout_masks: auto` means on `device`."""
    if setting != "auto":
        return setting
    return "int16" if device.type == "cpu" else "torch"


def int16_keep_mask(shape: torch.Size, p: float, device: torch.device) -> tuple[torch.Tensor, float]:
    """Which elements survive dropout with probability p, and the scale that keeps their expectation."""
    drop_below = round(p * 65536)  # of the 65536 values of a 16-bit draw
    numel = shape.numel()
    draws = torch.randint(-2**63, 2**63 - 1, ((numel + 3) // 4,), dtype=torch.int64, device=device)
    keep = draws.view(torch.int16)[:numel].view(shape) >= drop_below - 32768
    return keep, 65536 / (65536 - drop_below)


def int16_dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if not training or p == 0:
        return x
    keep, scale = int16_keep_mask(x.shape, p, x.device)
    return torch.where(keep, x, 0).mul_(scale)


class Int16Dropout(nn.Dropout):
    """nn.Dropout with `int16` masks (same p, same place in the model)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return int16_dropout(x, self.p, self.training)


BLOCK_PROBABILITIES = 2**21  # attention probabilities computed at once: 8 MB in float32, about a cache's worth


def _blocks(query: torch.Tensor, key: torch.Tensor) -> list[slice]:
    """Slices of whole sequences with at most BLOCK_PROBABILITIES probabilities (one sequence at least)."""
    per_sequence = query.shape[1] * query.shape[2] * key.shape[2]
    rows = max(1, BLOCK_PROBABILITIES // per_sequence)
    return [slice(start, start + rows) for start in range(0, len(query), rows)]


def _probabilities(query, key, mask: torch.Tensor | None, rows: slice, scaling: float) -> torch.Tensor:
    """Softmax attention probabilities of some sequences' heads, in float32."""
    scores = torch.matmul(query[rows] * scaling, key[rows].transpose(-1, -2)).float()
    if mask is not None:
        mask = mask[rows] if len(mask) > 1 else mask  # SDPA's: True = attend, or additive
        scores = scores.masked_fill_(~mask, float("-inf")) if mask.dtype == torch.bool else scores.add_(mask)
    return scores.softmax(-1)


class Int16DropoutAttention(torch.autograd.Function):
    """softmax(q k^T * scaling + mask), int16 dropout, times v, a few sequences at a time, so the probabilities
    stay in cache; backward recomputes them (as flash attention does) and keeps only the drop masks, a byte
    per probability. Without dropout SDPA's fused kernel runs instead; with it SDPA materialises everything."""

    @staticmethod
    def forward(ctx, query, key, value, mask, p: float, scaling: float):
        with torch.autocast(query.device.type, enabled=False):  # inputs already carry the autocast dtype
            output = torch.empty_like(query)
            keeps, scale = int16_keep_mask(query.shape[:-1] + key.shape[-2:-1], p, query.device)
            for rows in _blocks(query, key):
                probs = _probabilities(query, key, mask, rows, scaling)
                output[rows] = torch.matmul(probs.masked_fill_(~keeps[rows], 0).to(value.dtype), value[rows])
            output.mul_(scale)
        ctx.save_for_backward(query, key, value, output, mask, keeps)
        ctx.scaling, ctx.scale = scaling, scale
        return output

    @staticmethod
    def backward(ctx, grad_output):
        query, key, value, output, mask, keeps = ctx.saved_tensors
        scaling, scale = ctx.scaling, ctx.scale
        grads = [torch.empty_like(query), torch.empty_like(key), torch.empty_like(value)]
        with torch.autocast(query.device.type, enabled=False):
            grad_output = grad_output.to(value.dtype) * scale
            # sum over keys of dL/dprob * prob = grad_output . output (flash attention's D)
            row_sums = (grad_output.float() * output.float()).sum(-1, keepdim=True) / scale
            for rows in _blocks(query, key):
                probs, keep = _probabilities(query, key, mask, rows, scaling), keeps[rows]
                grads[2][rows] = torch.matmul(torch.where(keep, probs, 0).to(value.dtype).transpose(-1, -2),
                                              grad_output[rows])
                grad_probs = torch.matmul(grad_output[rows], value[rows].transpose(-1, -2)).float().masked_fill_(~keep, 0)
                grad_scores = grad_probs.sub_(row_sums[rows]).mul_(probs).to(query.dtype)
                grads[0][rows] = torch.matmul(grad_scores, key[rows]) * scaling
                grads[1][rows] = torch.matmul(grad_scores.transpose(-1, -2), query[rows]) * scaling
        return *grads, None, None, None


def int16_attention(module, query, key, value, attention_mask, dropout: float = 0.0, scaling: float | None = None,
                    **kwargs):
    """The attention function of `dropout_masks: int16`; without dropout (eval) it is SDPA itself."""
    if dropout == 0.0:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)
    scaling = query.size(-1) ** -0.5 if scaling is None else scaling
    if len(_blocks(query, key)) > 1:
        output = Int16DropoutAttention.apply(query, key, value, attention_mask, dropout, scaling)
    else:  # short sequences, all in cache at once: autograd keeps the probabilities, cheaper than recomputing
        probs = _probabilities(query, key, attention_mask, slice(None), scaling)
        keep, scale = int16_keep_mask(probs.shape, dropout, probs.device)
        output = torch.matmul(torch.where(keep, probs, 0).to(value.dtype), value) * scale
    return output.transpose(1, 2).contiguous(), None


AttentionInterface.register(INT16_ATTENTION, int16_attention)
AttentionMaskInterface.register(INT16_ATTENTION, sdpa_mask)


def use_dropout_masks(model: nn.Module, masks: str) -> None:
    """Draw every dropout of `model` (encoder and heads) as `masks` ("torch" or "int16"); an encoder carried
    over from a phase with the other setting is switched back."""
    dropout_class, attention, other = ((Int16Dropout, INT16_ATTENTION, "sdpa") if masks == "int16"
                                       else (nn.Dropout, "sdpa", INT16_ATTENTION))
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            if isinstance(child, nn.Dropout) and type(child) is not dropout_class:
                setattr(parent, name, dropout_class(child.p, child.inplace))
    for module in model.modules():
        config = getattr(module, "config", None)
        if (getattr(config, "_attn_implementation", None) == other and hasattr(module, "set_attn_implementation")
                and module._can_set_attn_implementation()):
            module.set_attn_implementation(attention)
