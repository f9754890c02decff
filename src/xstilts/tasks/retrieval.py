"""Bitext retrieval without training: BUCC 2018 mining and Tatoeba similarity search.

Both use the encoder's sentence representations directly; the layer (per model), pooling,
maximum length and BUCC protocol are run settings recorded with every result.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data import readers as R
from ..data import writers as W
from ..data.sources import Hub, Url
from ..errors import XstiltsError
from ..evaluation.retrieval import bucc_scores, distinct_texts, mine_pairs, tatoeba_nearest, tatoeba_scores
from ..evaluation.units import PerExample, mean_of
from .base import TaskSpec, sources
from .family import Family, Option


def _read_tatoeba(path: Path):
    return R.read_tatoeba(path, path.with_suffix(".eng"))


def _read_tatoeba_xtreme(path: Path):
    """XTREME's layout: `{lang}-en.{lang}` beside `{lang}-en.en`."""
    return R.read_tatoeba(path, path.with_suffix(".en"))


def _read_bucc(path: Path):
    gold = path.with_suffix(".gold")
    return R.read_bucc(path, path.with_suffix(".en"), gold if gold.exists() else None)


def retrieval_layer(settings, model_name: str, encoder_config) -> int:
    """The hidden-state index to embed `model_name` with: its entry in settings.layers, else
    settings.layer. Index 0 is the embedding output and num_hidden_layers the last layer;
    negative indices count from the last. Out of range is a one-line XstiltsError."""
    field, layer = (f"retrieval.layers[{model_name!r}]", settings.layers[model_name]) if model_name in settings.layers \
        else ("retrieval.layer", settings.layer)
    depth = encoder_config.num_hidden_layers
    if not -(depth + 1) <= layer <= depth:
        raise XstiltsError(f"{field} = {layer} is out of range for {model_name!r} with {depth} layers "
                           f"(hidden-state indices {-(depth + 1)}..{depth})")
    return layer % (depth + 1)


def bucc_candidates(corpus, embed, k: int, protocol: str) -> list[tuple[str, str, float]]:
    """Mined (src_id, trg_id, margin) candidates of one BUCC corpus.

    "xtreme" (XTREME's published numbers): each distinct text is embedded and mined once and
    candidates are mapped back to ids through the texts that occur once, so pairs with a
    repeated sentence are never found. "by_id": every id is its own row, repeats included.
    """
    if protocol == "by_id":
        pairs = mine_pairs(embed(corpus.src_texts), embed(corpus.trg_texts), k=k)
        return [(corpus.src_ids[i], corpus.trg_ids[j], s) for i, j, s in pairs]
    src_texts, src_id_of = distinct_texts(corpus.src_ids, corpus.src_texts)
    trg_texts, trg_id_of = distinct_texts(corpus.trg_ids, corpus.trg_texts)
    pairs = mine_pairs(embed(src_texts), embed(trg_texts), k=k)
    return [(src_id_of[src_texts[i]], trg_id_of[trg_texts[j]], s) for i, j, s in pairs
            if src_texts[i] in src_id_of and trg_texts[j] in trg_id_of]


class EmbeddingFamily(Family):
    """Scored on the encoder's sentence embeddings directly: nothing is trained, no head."""

    head_kind = None
    trains = False

    def score_embeddings(self, spec, corpora: dict, embed) -> dict[str, float]:
        """corpora: split -> RetrievalCorpus; embed(texts) -> L2-normalisable float32 matrix."""
        return self.score_embeddings_per_example(spec, corpora, embed)[0]

    def score_embeddings_per_example(self, spec, corpora: dict, embed):
        """(metrics, evaluation.units.PerExample or None where the metric does not decompose)."""
        raise NotImplementedError


class SimilaritySearchFamily(EmbeddingFamily):
    name = "similarity_search"

    unit_metrics = {"accuracy": mean_of("correct"), "accuracy_xx_to_en": mean_of("correct_xx_to_en")}

    def score_embeddings_per_example(self, spec, corpora, embed):
        corpus = corpora["test"]
        nearest = tatoeba_nearest(embed(corpus.src_texts), embed(corpus.trg_texts))
        rows = np.arange(len(nearest["en_to_xx"]))
        # the prediction of English query i: the index of the non-English line it retrieved
        per_example = PerExample([str(i) for i in rows], nearest["en_to_xx"].tolist(),
                                 {"correct": (nearest["en_to_xx"] == rows).astype(float).tolist(),
                                  "correct_xx_to_en": (nearest["xx_to_en"] == rows).astype(float).tolist()})
        return tatoeba_scores(nearest), per_example


class BitextMiningFamily(EmbeddingFamily):
    name = "bitext_mining"
    options = {"k": Option(4, "neighbours of each side in the ratio margin"),
               "protocol": Option("xtreme", "xtreme: each distinct text mined once, repeated sentences dropped "
                                            "(XTREME's published numbers); by_id: every sentence id its own row",
                                  ("xtreme", "by_id"))}

    def score_embeddings_per_example(self, spec, corpora, embed):
        """BUCC's F1 uses a threshold tuned on dev over the whole mined set: it does not decompose per example."""
        mined = {split: (bucc_candidates(corpus, embed, self.option(spec, "k"), self.option(spec, "protocol")),
                         set(corpus.gold))
                 for split, corpus in corpora.items()}
        return bucc_scores(*mined["dev"], *mined["test"]), None


TATOEBA_LANGS = tuple(sorted(R.TATOEBA_ISO3))

TASKS = [
    TaskSpec("bucc2018", "bitext_mining", "target", ("de", "fr", "ru", "zh"),
             {"dev": sources(("bucc2018/{lang}-en.dev.{lang}", _read_bucc)),
              "test": sources(("bucc2018/{lang}-en.test.{lang}", _read_bucc))},
             headline=("f1",), max_length=None, batch_size=None, epochs=None, learning_rate=None,
             description="Parallel sentence mining: ratio margin k=4, margin > 0, threshold tuned on dev; task option "
                         "protocol: xtreme (default: distinct texts, repeated sentences dropped) or by_id"),
    TaskSpec("tatoeba", "similarity_search", "target", TATOEBA_LANGS,
             {"test": sources(("tatoeba/tatoeba.{lang3}-eng.{lang3}", _read_tatoeba))},
             headline=("accuracy",), max_length=None, batch_size=None, epochs=None,
             learning_rate=None, lang_codes=dict(R.TATOEBA_ISO3),
             layouts={"xtreme": {"test": sources(("tatoeba/{lang}-en.{lang}", _read_tatoeba_xtreme))}},
             description="Tatoeba similarity search, top-1 cosine: accuracy = en -> xx (XTREME's direction), "
                         "accuracy_xx_to_en beside it"),
]

BUCC_URL = "https://comparable.limsi.fr/bucc2018/bucc2018-{lang}-en.{release}-gold.tar.bz2"


def bucc_release(release: str, split: str) -> Url:
    """One BUCC 2018 release with gold: both sides and the gold pairs, renamed to our split."""
    return Url(BUCC_URL.replace("{release}", release),
               {f"bucc2018/{{lang}}-en/{{lang}}-en.{release}.{side}": f"bucc2018/{{lang}}-en.{split}.{side}"
                for side in ("{lang}", "en", "gold")},
               ("de", "fr", "ru", "zh"))


DOWNLOADS = {
    # The official test gold is unreleased: the sample set is dev and the training set (with gold) is test.
    "bucc2018": (bucc_release("sample", "dev"), bucc_release("training", "test")),
    "tatoeba": (Hub("google/xtreme", "tatoeba.{name}", {"validation": "tatoeba/tatoeba.{name}-eng.{name}"}, W.tatoeba,
                    TATOEBA_LANGS, names=dict(R.TATOEBA_ISO3)),),
}
