"""Every reader on the real staged files (../shared/data), with the counts of shared/data/MANIFEST.md."""

from __future__ import annotations

import pytest

from xstilts.data.readers import (TATOEBA_ISO3, answer_mismatches, read_commonsenseqa, read_conllu, read_cosmosqa,
                                  read_hellaswag, read_hf_qa, read_nli_tsv, read_pawsx_tsv, read_squad_json,
                                  read_tatoeba, read_xnli_official)

pytestmark = pytest.mark.shared_data

XQUAD_LANGS = ("ar", "de", "el", "en", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh")

# MANIFEST §3: pairs with fewer than 1,000 sentences (all others have exactly 1,000).
TATOEBA_SMALL = {
    "amh": 168, "ang": 134, "arq": 911, "arz": 477, "ast": 127, "awa": 231, "bos": 354, "ceb": 600, "cha": 137,
    "csb": 253, "cym": 575, "dsb": 479, "fao": 262, "fry": 173, "gla": 829, "gsw": 117, "hsb": 483, "hye": 742,
    "jav": 205, "kat": 746, "kaz": 575, "khm": 722, "kur": 410, "mal": 687, "max": 284, "mon": 440, "nov": 257,
    "orv": 835, "pms": 525, "slv": 823, "swg": 112, "swh": 390, "tam": 307, "tel": 234, "tha": 548, "tuk": 203,
    "tzl": 104, "uzb": 428, "xho": 142, "yid": 848,
}

# MANIFEST §10: (sentences, integer-ID tokens) per staged CoNLL-U file.
UD_COUNTS = {
    "English-EWT/en_ewt-ud-train.conllu": (12544, 204577),
    "English-EWT/en_ewt-ud-dev.conllu": (2001, 25147),
    "English-EWT/en_ewt-ud-test.conllu": (2077, 25094),
    "German-GSD/de_gsd-ud-dev.conllu": (799, 12480),
    "German-GSD/de_gsd-ud-test.conllu": (977, 16499),
    "Spanish-GSD/es_gsd-ud-dev.conllu": (1400, 37154),
    "Spanish-GSD/es_gsd-ud-test.conllu": (427, 12002),
    "French-GSD/fr_gsd-ud-dev.conllu": (1476, 35721),
    "French-GSD/fr_gsd-ud-test.conllu": (416, 10018),
    "Russian-GSD/ru_gsd-ud-dev.conllu": (579, 11709),
    "Russian-GSD/ru_gsd-ud-test.conllu": (601, 11385),
    "Chinese-GSD/zh_gsd-ud-dev.conllu": (500, 12665),
    "Chinese-GSD/zh_gsd-ud-test.conllu": (500, 12010),
    "Japanese-GSD/ja_gsd-ud-dev.conllu": (507, 12287),
    "Japanese-GSD/ja_gsd-ud-test.conllu": (543, 13034),
    "Finnish-TDT/fi_tdt-ud-dev.conllu": (1364, 18308),
    "Finnish-TDT/fi_tdt-ud-test.conllu": (1555, 21070),
    "Turkish-IMST/tr_imst-ud-train.conllu": (3435, 37522),
    "Turkish-IMST/tr_imst-ud-dev.conllu": (1100, 10542),
    "Turkish-IMST/tr_imst-ud-test.conllu": (1100, 10032),
    "Vietnamese-VTB/vi_vtb-ud-train.conllu": (1400, 20215),
    "Vietnamese-VTB/vi_vtb-ud-dev.conllu": (1123, 26162),
    "Vietnamese-VTB/vi_vtb-ud-test.conllu": (800, 11692),
    "Indonesian-GSD/id_gsd-ud-dev.conllu": (559, 12661),
    "Indonesian-GSD/id_gsd-ud-test.conllu": (557, 11756),
    "Korean-GSD/ko_gsd-ud-dev.conllu": (950, 11958),
    "Korean-GSD/ko_gsd-ud-test.conllu": (989, 11677),
}

UPOS = {"ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT",
        "SCONJ", "SYM", "VERB", "X"}


def _shape(examples):
    """(questions, articles, paragraphs) of a SQuAD-format file."""
    return len(examples), len({e.title for e in examples}), len({(e.title, e.context) for e in examples})


@pytest.mark.parametrize("lang", XQUAD_LANGS)
def test_xquad(shared_data, lang):
    ex = read_squad_json(shared_data / f"xquad/xquad.{lang}.json")
    assert _shape(ex) == (1190, 48, 240)
    assert answer_mismatches(ex) == 0 and all(len(e.answers) == 1 for e in ex)


def test_xquad_ids_shared_across_languages(shared_data):
    ids = {lang: [e.guid for e in read_squad_json(shared_data / f"xquad/xquad.{lang}.json")] for lang in ("en", "th")}
    assert ids["en"] == ids["th"]


def test_squad_dev(shared_data):
    ex = read_squad_json(shared_data / "squad/dev-v1.1.json")
    assert _shape(ex) == (10570, 48, 2067)
    assert sum(len(e.answers) == 3 for e in ex) == 8490  # MANIFEST: 3 references for 8,490 questions
    assert answer_mismatches(ex) == 0 and not any(e.is_impossible for e in ex)


def test_mlqa_de_de(shared_data):
    ex = read_hf_qa(shared_data / "mlqa/de.de")  # the DatasetDict lists a test split that was not staged
    assert len(ex) == 512 and len({e.guid for e in ex}) == 512
    assert answer_mismatches(ex) == 0 and all(e.answers for e in ex)
    assert read_hf_qa(shared_data / "mlqa/de.de/validation") == ex


def test_tatoeba_all_pairs(shared_data):
    sources = sorted(p for p in (shared_data / "tatoeba").glob("tatoeba.*-eng.*") if p.suffix != ".eng")
    assert len(sources) == 112
    total = 0
    for src in sources:
        iso3 = src.suffix[1:]
        corpus = read_tatoeba(src)
        assert len(corpus.src_texts) == len(corpus.trg_texts) == TATOEBA_SMALL.get(iso3, 1000), iso3
        assert len(corpus.gold) == len(corpus.src_ids)
        total += len(corpus.gold)
    assert total == 88877


def test_tatoeba_xtreme_languages(shared_data):
    assert len(TATOEBA_ISO3) == 36
    for lang, iso3 in TATOEBA_ISO3.items():
        src = shared_data / f"tatoeba/tatoeba.{iso3}-eng.{iso3}"
        assert src.exists() and src.with_suffix(".eng").exists(), lang
        assert len(read_tatoeba(src).src_ids) == TATOEBA_SMALL.get(iso3, 1000), lang
    assert {lang: TATOEBA_SMALL[iso3] for lang, iso3 in TATOEBA_ISO3.items() if iso3 in TATOEBA_SMALL} == {
        "jv": 205, "ka": 746, "kk": 575, "ml": 687, "sw": 390, "ta": 307, "te": 234, "th": 548}


def test_hellaswag_val(shared_data):
    ex = read_hellaswag(shared_data / "hellaswag/hellaswag_val_full.txt")
    assert len(ex) == 10042
    assert all(len(e.choices) == 4 and e.label in range(4) for e in ex)
    # the derived txt agrees with the original-format sample (same first val record)
    original = read_hellaswag(shared_data / "hf_dummy_samples/hellaswag/hellaswag_val.jsonl")[0]
    assert ex[0].context == "Roof shingle removal: A man is sitting on a roof. he"
    assert [f"he {c}" for c in ex[0].choices] == original.choices and ex[0].label == original.label


def test_cosmosqa_valid(shared_data):
    ex = read_cosmosqa(shared_data / "cosmosqa/valid.csv")
    assert len(ex) == 2985 and len({e.guid for e in ex}) == 2985
    assert all(len(e.choices) == 4 and e.label in range(4) for e in ex)
    sample = read_cosmosqa(shared_data / "hf_dummy_samples/cosmosqa/valid.csv")
    assert ex[:2] == sample


def test_commonsenseqa_dev(shared_data):
    ex = read_commonsenseqa(shared_data / "commonsenseqa/dev_rand_split.hf_schema.jsonl")
    assert len(ex) == 1221 and all(len(e.choices) == 5 and e.label in range(5) for e in ex)
    # the HF-schema copy and the official nested sample read to the same records
    assert ex[:2] == read_commonsenseqa(shared_data / "hf_dummy_samples/commonsenseqa/dev_rand_split.jsonl")


@pytest.mark.parametrize("name", sorted(UD_COUNTS))
def test_ud(shared_data, name):
    ex = read_conllu(shared_data / "ud" / name)
    assert (len(ex), sum(len(e.tokens) for e in ex)) == UD_COUNTS[name]
    assert len({e.guid for e in ex}) == len(ex)  # every sentence has a distinct sent_id
    assert {t for e in ex for t in e.tags} <= UPOS


def test_ud_every_staged_file_is_counted(shared_data):
    staged = {p.relative_to(shared_data / "ud").as_posix() for p in (shared_data / "ud").glob("*/*.conllu")}
    assert staged == set(UD_COUNTS)


@pytest.mark.parametrize("split", ["dev", "test"])
def test_pawsx_de(shared_data, split):
    ex = read_pawsx_tsv(shared_data / f"pawsx/de/{split}.tsv")
    assert len(ex) == 2000 and {e.label for e in ex} == {"0", "1"}
    sample = read_pawsx_tsv(shared_data / f"hf_dummy_samples/pawsx/de/{split}_2k.tsv")
    assert ex[:len(sample)] == sample  # the staged files are the official x-final/de files


@pytest.mark.parametrize("split,count", [("test", 5010), ("dev", 250), ("train", 2245)])
def test_xnli_de(shared_data, split, count):
    ex = read_nli_tsv(shared_data / f"xnli/de/{split}.txt")
    assert len(ex) == count and {e.label for e in ex} == {"entailment", "neutral", "contradiction"}


def test_xnli_de_test_matches_official(shared_data):
    staged = read_nli_tsv(shared_data / "xnli/de/test.txt")[0]
    official = read_xnli_official(shared_data / "hf_dummy_samples/xnli/XNLI-1.0/xnli.test.tsv", "de")[0]
    assert (staged.text_a, staged.text_b, staged.label) == (official.text_a, official.text_b, official.label)
