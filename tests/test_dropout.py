"""The `dropout` training setting: None keeps the model's recipe; a number sets every dropout, attention's included."""

import pytest
import torch
from pydantic import ValidationError
from transformers import BertConfig, BertModel

from xstilts.config import TrainSettings
from xstilts.modeling.model import MultiTaskModel
from xstilts.training.memory import prepare_for_training


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


@pytest.mark.parametrize("hidden, attention", [(0.1, 0.0), (0.0, 0.5)])  # attention alone is caught too
def test_dropout_zero_makes_training_forwards_deterministic(hidden, attention):
    recipe = tagger(hidden, attention)
    prepare_for_training(recipe, TrainSettings())
    first, second = two_forwards(recipe)
    assert not torch.equal(first, second)  # the model's own dropout is kept by default
    off = tagger(hidden, attention)
    prepare_for_training(off, TrainSettings(dropout=0.0))
    first, second = two_forwards(off)
    assert torch.equal(first, second)
    assert off.encoder.config.hidden_dropout_prob == hidden  # the saved encoder keeps its recipe


def test_dropout_is_a_probability():
    with pytest.raises(ValidationError):
        TrainSettings(dropout=1.0)
