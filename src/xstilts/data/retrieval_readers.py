"""Bitext-retrieval readers: Tatoeba (LASER v1 test sets, as used by XTREME) and BUCC 2018."""

from __future__ import annotations

from pathlib import Path

from ..errors import DataFormatError
from ._io import lines
from .examples import RetrievalCorpus

# XTREME language code -> the ISO 639-3 name of its Tatoeba file (tatoeba.{iso3}-eng.{iso3}).
# Not always the plain 639-3 code of the language: Persian is pes, Swahili swh, Chinese cmn.
TATOEBA_ISO3 = {
    "af": "afr", "ar": "ara", "bg": "bul", "bn": "ben", "de": "deu", "el": "ell", "es": "spa", "et": "est",
    "eu": "eus", "fa": "pes", "fi": "fin", "fr": "fra", "he": "heb", "hi": "hin", "hu": "hun", "id": "ind",
    "it": "ita", "ja": "jpn", "jv": "jav", "ka": "kat", "kk": "kaz", "ko": "kor", "ml": "mal", "mr": "mar",
    "nl": "nld", "pt": "por", "ru": "rus", "sw": "swh", "ta": "tam", "te": "tel", "th": "tha", "tl": "tgl",
    "tr": "tur", "ur": "urd", "vi": "vie", "zh": "cmn",
}


def read_tatoeba(src_path: str | Path, eng_path: str | Path | None = None) -> RetrievalCorpus:
    """`tatoeba.{iso3}-eng.{iso3}` and its line-aligned `tatoeba.{iso3}-eng.eng` (derived from
    src_path when eng_path is None). ids are 1-based line numbers as strings; gold is the diagonal."""
    src_path = Path(src_path)
    eng_path = Path(eng_path) if eng_path is not None else src_path.with_suffix(".eng")
    src = [text for _, text in lines(src_path)]
    eng = [text for _, text in lines(eng_path)]
    if len(src) != len(eng):
        raise DataFormatError(src_path, None, f"has {len(src)} lines but its aligned file {eng_path} has "
                                              f"{len(eng)}; the two sides must be line-aligned")
    if not src:
        raise DataFormatError(src_path, None, f"empty: no sentences on either side (nor in {eng_path})")
    ids = [str(i) for i in range(1, len(src) + 1)]
    return RetrievalCorpus(ids, src, list(ids), eng, [(i, i) for i in ids])


def _bucc_side(path: Path) -> tuple[list[str], list[str]]:
    ids, texts, seen = [], [], {}
    for number, text in lines(path):
        if not text.strip():
            continue
        sid, tab, sentence = text.partition("\t")
        if not tab or not sid.strip():
            raise DataFormatError(path, number, "expected `id<TAB>sentence`")
        if sid in seen:
            raise DataFormatError(path, number, f"id {sid!r} already used on line {seen[sid]}")
        seen[sid] = number
        ids.append(sid)
        texts.append(sentence)
    return ids, texts


def read_bucc(src_path: str | Path, trg_path: str | Path | None = None,
              gold_path: str | Path | None = None) -> RetrievalCorpus:
    """BUCC 2018: `{lg}-en.{split}.{lg}` and `{lg}-en.{split}.en` with `id<TAB>sentence` lines, and
    the optional gold `{lg}-en.{split}.gold` with `src_id<TAB>trg_id` lines (test sets have none).

    When trg_path is None it is derived from src_path, and so is the gold file if it exists.
    """
    src_path = Path(src_path)
    if trg_path is None:
        trg_path = src_path.with_suffix(".en")
        derived_gold = src_path.with_suffix(".gold")
        gold_path = gold_path if gold_path is not None else (derived_gold if derived_gold.exists() else None)
    src_ids, src_texts = _bucc_side(src_path)
    trg_ids, trg_texts = _bucc_side(Path(trg_path))
    for side, ids in ((src_path, src_ids), (trg_path, trg_ids)):
        if not ids:
            raise DataFormatError(side, None, "empty: no `id<TAB>sentence` lines")
    gold: list[tuple[str, str]] = []
    if gold_path is not None:
        known_src, known_trg = set(src_ids), set(trg_ids)
        for number, text in lines(gold_path):
            if not text.strip():
                continue
            pair = text.split("\t")
            if len(pair) != 2:
                raise DataFormatError(gold_path, number, f"expected `src_id<TAB>trg_id`, got {len(pair)} fields")
            if pair[0] not in known_src:
                raise DataFormatError(gold_path, number, f"source id {pair[0]!r} is not in {src_path}")
            if pair[1] not in known_trg:
                raise DataFormatError(gold_path, number, f"target id {pair[1]!r} is not in {trg_path}")
            gold.append((pair[0], pair[1]))
    return RetrievalCorpus(src_ids, src_texts, trg_ids, trg_texts, gold)
