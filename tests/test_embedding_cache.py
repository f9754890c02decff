"""Retrieval embeddings of an unchanged encoder are computed once and reused; a changed encoder misses."""

import numpy as np

import xstilts.modeling.embedding_cache as cache
from xstilts.demo import LANGS, build_tiny_model, corpus_texts
from xstilts.modeling.model import load_encoder


def test_cached_embed_reuses_only_for_the_same_encoder_files_and_texts(tmp_path, monkeypatch):
    monkeypatch.setenv("XSTILTS_CACHE", str(tmp_path / "cache"))
    model_dir = build_tiny_model(tmp_path / "tiny", corpus_texts(LANGS), hidden=32, layers=1, vocab_size=800)
    encoder, tokenizer = load_encoder(str(model_dir))
    texts = corpus_texts(("en",))[:20]
    calls = []
    real_embed = cache.embed
    monkeypatch.setattr(cache, "embed", lambda *args: calls.append(1) or real_embed(*args))

    first = cache.cached_embed(model_dir, encoder, tokenizer, texts)
    again = cache.cached_embed(model_dir, encoder, tokenizer, texts)
    assert len(calls) == 1 and np.array_equal(first, again) and first.shape == (20, 32)
    assert np.allclose(first, real_embed(encoder, tokenizer, texts))

    cache.cached_embed(model_dir, encoder, tokenizer, texts, pooling="cls")  # another setting
    cache.cached_embed(model_dir, encoder, tokenizer, texts[:10])             # other texts
    assert len(calls) == 3
    weights = next(model_dir.glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes() + b" ")                      # the encoder changed
    cache.cached_embed(model_dir, encoder, tokenizer, texts)
    assert len(calls) == 4
    cache.cached_embed("some/hub-id", encoder, tokenizer, texts)          # contents unknown: never cached
    cache.cached_embed("some/hub-id", encoder, tokenizer, texts)
    assert len(calls) == 6
