"""Bitext retrieval without training: BUCC 2018 mining and Tatoeba similarity search.

Both use the encoder's sentence representations directly; the layer, pooling and maximum
length are run settings recorded with every result.
"""

from __future__ import annotations

from pathlib import Path

from ..data import readers as R
from ..data import writers as W
from ..data.sources import Hub, Url
from ..evaluation.retrieval import bucc_scores, mine_pairs, tatoeba_accuracy
from .base import TaskSpec, sources
from .family import Family


def _read_tatoeba(path: Path):
    return R.read_tatoeba(path, path.with_suffix(".eng"))


def _read_tatoeba_xtreme(path: Path):
    """XTREME's layout: `{lang}-en.{lang}` beside `{lang}-en.en`."""
    return R.read_tatoeba(path, path.with_suffix(".en"))


def _read_bucc(path: Path):
    gold = path.with_suffix(".gold")
    return R.read_bucc(path, path.with_suffix(".en"), gold if gold.exists() else None)


class RetrievalFamily(Family):
    name = "retrieval"
    head_kind = None
    trains = False

    def score_embeddings(self, spec, corpora: dict, embed) -> dict[str, float]:
        """corpora: split -> RetrievalCorpus; embed(texts) -> L2-normalisable float32 matrix."""
        if spec.name == "tatoeba":
            corpus = corpora["test"]
            return tatoeba_accuracy(embed(corpus.src_texts), embed(corpus.trg_texts))
        mined = {}
        for split, corpus in corpora.items():
            pairs = mine_pairs(embed(corpus.src_texts), embed(corpus.trg_texts), k=spec.options.get("k", 4))
            mined[split] = ([(corpus.src_ids[i], corpus.trg_ids[j], s) for i, j, s in pairs], set(corpus.gold))
        return bucc_scores(*mined["dev"], *mined["test"])


TATOEBA_LANGS = tuple(sorted(R.TATOEBA_ISO3))

TASKS = [
    TaskSpec("bucc2018", "retrieval", "target", ("de", "fr", "ru", "zh"),
             {"dev": sources(("bucc2018/{lang}-en.dev.{lang}", _read_bucc)),
              "test": sources(("bucc2018/{lang}-en.test.{lang}", _read_bucc))},
             headline=("f1",), max_length=None, batch_size=None, epochs=None, learning_rate=None, options={"k": 4},
             description="Parallel sentence mining: ratio margin k=4, threshold tuned on dev"),
    TaskSpec("tatoeba", "retrieval", "target", TATOEBA_LANGS,
             {"test": sources(("tatoeba/tatoeba.{lang3}-eng.{lang3}", _read_tatoeba))},
             headline=("accuracy",), max_length=None, batch_size=None, epochs=None,
             learning_rate=None, lang_codes=dict(R.TATOEBA_ISO3),
             layouts={"xtreme": {"test": sources(("tatoeba/{lang}-en.{lang}", _read_tatoeba_xtreme))}},
             description="Tatoeba similarity search, top-1 cosine (xx -> en)"),
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
