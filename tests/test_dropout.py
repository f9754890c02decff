"""The dropout settings: `dropout` (None keeps the model's recipe; a number sets every dropout, attention's
included) and `dropout_masks` (int16 draws: the same dropout, drawn more cheaply)."""

import pytest
import torch
from pydantic import ValidationError
from transformers import BertConfig, BertModel

from xstilts.config import TrainSettings
from xstilts.modeling.model import MultiTaskModel
from xstilts.training.dropout import INT16_ATTENTION, Int16Dropout, int16_dropout, int16_keep_mask
from xstilts.training.memory import prepare_for_training

CPU = torch.device("cpu")


def tagger(hidden_dropout: float, attention_dropout: float) -> MultiTaskModel:
    torch.manual_seed(0)
    config = BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                        hidden_dropout_prob=hidden_dropout, attention_probs_dropout_prob=attention_dropout)
    model = MultiTaskModel(BertModel(config, add_pooling_layer=False))
    model.add_head("pos", "tagging", 5)
    return model.train()


def two_forwards(model) -> tuple[torch.Tensor, torch.Tensor]:
    ids = torch.arange(2, 14).reshape(2, 6)
    return tuple(model("pos", input_ids=ids)[1] for _ in range(2))


@pytest.mark.parametrize("masks", ["torch", "int16"])
@pytest.mark.parametrize("hidden, attention", [(0.1, 0.0), (0.0, 0.5)])  # attention alone is caught too
def test_dropout_zero_makes_training_forwards_deterministic(hidden, attention, masks):
    recipe = tagger(hidden, attention)
    prepare_for_training(recipe, TrainSettings(dropout_masks=masks), CPU)
    first, second = two_forwards(recipe)
    assert not torch.equal(first, second)  # the model's own dropout is kept by default
    off = tagger(hidden, attention)
    prepare_for_training(off, TrainSettings(dropout=0.0, dropout_masks=masks), CPU)
    first, second = two_forwards(off)
    assert torch.equal(first, second)
    assert off.encoder.config.hidden_dropout_prob == hidden  # the saved encoder keeps its recipe


def test_dropout_is_a_probability():
    with pytest.raises(ValidationError):
        TrainSettings(dropout=1.0)


def test_int16_masks_drop_p_and_keep_the_expectation():
    torch.manual_seed(1)
    keep, scale = int16_keep_mask(torch.Size([10_000_000]), 0.1, CPU)
    dropped = 1 - keep.float().mean().item()
    assert abs(dropped - 0.1) < 6 * (0.1 * 0.9 / 10_000_000) ** 0.5 + 1 / 131072  # binomial noise + 16-bit rounding
    assert scale == 65536 / (65536 - 6554)  # the exact inverse of the keep rate
    x = torch.ones(1000, 1000, requires_grad=True)
    out = int16_dropout(x, 0.3, training=True)
    assert out.unique().tolist() == [0.0, torch.tensor(65536 / (65536 - round(0.3 * 65536))).item()]
    out.sum().backward()
    assert torch.equal(x.grad, out.detach())  # the gradient is the same mask and scale
    assert int16_dropout(x, 0.3, training=False) is x


def test_int16_attention_without_drops_is_sdpa_with_padding():
    """p small enough that no 16-bit draw drops: the math path must equal SDPA, padding mask included."""
    model = tagger(0.0, 1e-6).encoder
    ids = torch.arange(2, 14).reshape(2, 6)
    padding = torch.tensor([[1] * 6, [1] * 4 + [0] * 2])
    expected = model(input_ids=ids, attention_mask=padding).last_hidden_state
    prepare_for_training(model, TrainSettings(dropout_masks="int16"), CPU)
    assert model.config._attn_implementation == INT16_ATTENTION
    got = model(input_ids=ids, attention_mask=padding).last_hidden_state
    assert torch.allclose(got[padding.bool()], expected[padding.bool()], atol=1e-5)


def test_masks_setting_swaps_every_dropout_and_saves_a_plain_config(tmp_path):
    model = tagger(0.1, 0.1)
    assert prepare_for_training(model, TrainSettings(), CPU) == "int16"  # auto on a CPU
    assert not [m for m in model.modules() if type(m) is torch.nn.Dropout]
    assert any(isinstance(m, Int16Dropout) for m in model.heads.modules())  # heads too
    model.encoder.save_pretrained(tmp_path)
    assert INT16_ATTENTION not in (tmp_path / "config.json").read_text()  # loadable without xstilts
    torch_masks = tagger(0.1, 0.1)
    assert prepare_for_training(torch_masks, TrainSettings(dropout_masks="torch"), CPU) == "torch"
    assert not any(isinstance(m, Int16Dropout) for m in torch_masks.modules())
    assert torch_masks.encoder.config._attn_implementation == "sdpa"


@pytest.mark.parametrize("padded", [False, True])
@pytest.mark.parametrize("block", [98, 200, 2**21])  # 1, 2 (then 1) and all 3 sequences of 2 x 7 x 7 per block
def test_int16_attention_matches_its_masks_in_value_and_gradient(padded, block, monkeypatch):
    """With real drops: the blocked function against plain autograd math drawing the same masks."""
    from xstilts.training import dropout
    from xstilts.training.dropout import Int16DropoutAttention
    monkeypatch.setattr(dropout, "BLOCK_PROBABILITIES", block)
    torch.manual_seed(3)
    q, k, v = (torch.randn(3, 2, 7, 4, dtype=torch.float64, requires_grad=True) for _ in range(3))
    mask = torch.ones(3, 1, 7, 7, dtype=torch.bool)
    mask[1, ..., 5:] = False  # sequence 1 has two padding keys
    mask = mask if padded else None
    weights = torch.randn(3, 2, 7, 4, dtype=torch.float64)
    torch.manual_seed(4)
    got = Int16DropoutAttention.apply(q, k, v, mask, 0.3, 0.5)
    got_grads = torch.autograd.grad((got * weights).sum(), (q, k, v))
    torch.manual_seed(4)
    keep, scale = int16_keep_mask(torch.Size([3, 2, 7, 7]), 0.3, CPU)
    assert 0 < keep.logical_not().sum() < keep.numel()
    scores = (q * 0.5) @ k.transpose(-1, -2)
    if padded:
        scores = scores.masked_fill(~mask, float("-inf"))
    expected = torch.where(keep, scores.softmax(-1), 0) @ v * scale
    expected_grads = torch.autograd.grad((expected * weights).sum(), (q, k, v))
    assert torch.allclose(got, expected, atol=1e-6)  # softmax runs in float32
    for g, e in zip(got_grads, expected_grads):
        assert torch.allclose(g, e, atol=1e-5)


def test_int16_masks_are_redrawn_identically_under_gradient_checkpointing():
    """Checkpointing recomputes the forward in backward; it must draw the same masks (torch restores the RNG)."""
    def loss_and_grads(checkpointing: bool):
        model = tagger(0.1, 0.1)
        prepare_for_training(model, TrainSettings(dropout_masks="int16", gradient_checkpointing=checkpointing), CPU)
        torch.manual_seed(1)
        ids = torch.arange(2, 14).reshape(2, 6)
        loss, _ = model("pos", input_ids=ids, labels=torch.ones_like(ids))
        loss.backward()
        return loss, torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])

    (plain_loss, plain), (checkpointed_loss, checkpointed) = loss_and_grads(False), loss_and_grads(True)
    assert plain_loss == checkpointed_loss
    assert torch.allclose(plain, checkpointed, atol=1e-6)


def test_one_block_batches_draw_the_same_masks_through_autograd():
    """A batch that fits one block takes plain autograd; it must equal the blocked function, masks included."""
    from xstilts.training.dropout import Int16DropoutAttention, int16_attention
    q, k, v = (torch.randn(3, 2, 7, 4, requires_grad=True, generator=torch.Generator().manual_seed(i))
               for i in range(3))
    results = []
    for attend in (lambda: int16_attention(None, q, k, v, None, dropout=0.3, scaling=0.5)[0].transpose(1, 2),
                   lambda: Int16DropoutAttention.apply(q, k, v, None, 0.3, 0.5)):
        torch.manual_seed(5)
        output = attend()
        results.append((output, torch.autograd.grad(output.square().sum(), (q, k, v))))
    (plain, plain_grads), (blocked, blocked_grads) = results
    assert torch.allclose(plain, blocked, atol=1e-6)
    for a, b in zip(plain_grads, blocked_grads):
        assert torch.allclose(a, b, atol=1e-5)


def test_an_encoder_carried_into_a_torch_phase_gets_torch_dropout_back():
    model = tagger(0.1, 0.1)
    prepare_for_training(model, TrainSettings(dropout_masks="int16"), CPU)
    prepare_for_training(model, TrainSettings(dropout_masks="torch"), CPU)
    assert not any(isinstance(m, Int16Dropout) for m in model.modules())
    assert all(m.p == 0.1 for m in model.modules() if isinstance(m, torch.nn.Dropout))
    assert model.encoder.config._attn_implementation == "sdpa"
