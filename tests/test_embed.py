"""Sentence embeddings (modeling.model.embed): the chosen hidden layer, mean over real tokens or CLS,
batched with padding and returned in input order, each row equal to encoding its text alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from xstilts.demo import build_tiny_model, corpus_texts
from xstilts.modeling.model import embed

TEXTS = ["the quick brown fox jumps over the lazy dog again and again", "hello", "der Hund schläft"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = build_tiny_model(tmp_path_factory.mktemp("embed"), corpus_texts(("en", "de")), hidden=16, layers=3, vocab_size=300)
    return AutoModel.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)


def alone(encoder, tokenizer, text, layer):
    """Hidden states of `layer` for one text, no padding: [tokens, hidden]."""
    with torch.no_grad():
        return encoder(**tokenizer(text, return_tensors="pt"), output_hidden_states=True).hidden_states[layer][0].numpy()


@pytest.mark.parametrize("layer", [1, 2])
def test_mean_pooling_of_a_non_last_layer(tiny, layer):
    encoder, tokenizer = tiny
    got = embed(encoder, tokenizer, TEXTS, layer=layer, pooling="mean", batch_size=2)  # padded batches
    expected = np.stack([alone(encoder, tokenizer, t, layer).mean(0) for t in TEXTS])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    last = embed(encoder, tokenizer, TEXTS, layer=-1, pooling="mean")
    assert not np.allclose(got, last, atol=1e-3)  # the layer index really selects another layer


def test_cls_pooling_takes_the_first_token(tiny):
    encoder, tokenizer = tiny
    got = embed(encoder, tokenizer, TEXTS, layer=2, pooling="cls", batch_size=2)
    expected = np.stack([alone(encoder, tokenizer, t, 2)[0] for t in TEXTS])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert not np.allclose(got, embed(encoder, tokenizer, TEXTS, layer=2, pooling="mean"), atol=1e-3)
