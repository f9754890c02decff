"""Fuzz every reader: random bytes, truncations, wrong encodings and edits of the fixture files.

Every outcome must be a parsed result or a DataFormatError naming the file; any other exception
(IndexError, KeyError, UnicodeError, csv/JSON internals...) is a bug. XSTILTS_FUZZ_EXAMPLES sets the
case count (default 2000, about 10 s on 2 cores).
"""

from __future__ import annotations

import os
from collections import Counter
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xstilts.data import readers as R
from xstilts.errors import DataFormatError

FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXAMPLES = int(os.environ.get("XSTILTS_FUZZ_EXAMPLES", "2000"))

# (reader, the fixture it is fuzzed from, the other files the reader opens beside it: suffix -> fixture)
CASES = [
    (R.read_nli_tsv, "xnli_xtreme/test-de.tsv", {}),
    (R.read_xnli_official, "XNLI-1.0/xnli.test.tsv", {}),
    (R.read_xnli_official, "XNLI-1.0/xnli.test.jsonl", {}),
    (R.read_glue_mnli, "glue/MNLI/dev_matched.tsv", {}),
    (R.read_glue_qqp, "glue/QQP/dev.tsv", {}),
    (R.read_anli_jsonl, "anli_v1.0/R1/dev.jsonl", {}),
    (R.read_snli_jsonl, "snli_1.0/snli_1.0_dev.jsonl", {}),
    (R.read_pawsx_tsv, "x-final/de/dev_2k.tsv", {}),
    (R.read_pawsx_tsv, "pawsx_xtreme/dev-de.tsv", {}),
    (R.read_hellaswag, "hellaswag/hellaswag_val.jsonl", {}),
    (R.read_hellaswag, "hellaswag/hellaswag_val_full.txt", {}),
    (R.read_cosmosqa, "cosmosqa/valid.csv", {}),
    (R.read_cosmosqa, "cosmosqa/test.jsonl", {}),
    (R.read_commonsenseqa, "commonsenseqa/dev_rand_split.jsonl", {}),
    (R.read_commonsenseqa, "commonsenseqa/dev_rand_split.hf_schema.jsonl", {}),
    (R.read_squad_json, "squad/dev-v1.1.json", {}),
    (R.read_squad_json, "squad_v2/dev-v2.0.json", {}),
    (R.read_hf_qa, "hf_qa/validation.json", {}),
    (R.read_hf_qa, "hf_qa/validation.jsonl", {}),
    (R.read_conllu, "ud/en_ewt-ud-dev.conllu", {}),
    (R.read_panx, "wikiann/de/dev", {}),
    (R.read_panx, "panx_xtreme/dev-de.tsv", {}),
    (R.read_ccg, "ccg/dev.txt", {}),
    (R.read_tag_vocab, "ccg/tags.txt", {}),
    (R.read_tatoeba, "tatoeba/tatoeba.deu-eng.deu", {".eng": "tatoeba/tatoeba.deu-eng.eng"}),
    (R.read_bucc, "bucc2018/de-en.sample.de", {".en": "bucc2018/de-en.sample.en", ".gold": "bucc2018/de-en.sample.gold"}),
]
CASE_IDS = [f"{reader.__name__}:{Path(main).name}" for reader, main, _ in CASES]


def reencode(data: bytes, encoding: str) -> bytes:
    return data.decode("utf-8", errors="replace").encode(encoding, errors="replace")


@st.composite
def mutated(draw, data: bytes) -> bytes:
    """The file's bytes, damaged in one of the ways real files are."""
    kind = draw(st.sampled_from(["random", "truncate", "encoding", "splice", "lines"]))
    if kind == "random":
        return draw(st.binary(max_size=300))
    if kind == "truncate":
        return data[:draw(st.integers(0, len(data)))]
    if kind == "encoding":
        return reencode(data, draw(st.sampled_from(["utf-16", "latin-1", "cp1252", "utf-32"])))
    if kind == "splice":  # some bytes replaced in place
        start = draw(st.integers(0, len(data)))
        return data[:start] + draw(st.binary(min_size=1, max_size=20)) + data[start + draw(st.integers(0, 20)):]
    lines = data.split(b"\n")  # lines dropped, repeated or swapped
    picks = draw(st.lists(st.integers(0, max(len(lines) - 1, 0)), max_size=len(lines) + 3))
    return b"\n".join(lines[i] for i in picks if lines)


@st.composite
def fuzz_case(draw):
    index = draw(st.integers(0, len(CASES) - 1))
    reader, main, beside = CASES[index]
    files = {"": draw(mutated((FIXTURES / main).read_bytes()))}
    for suffix, fixture in beside.items():  # the paired files stay intact or get damaged too
        data = (FIXTURES / fixture).read_bytes()
        files[suffix] = draw(st.one_of(st.just(data), mutated(data)))
    return index, files


def read_case(case) -> str:
    """"parsed" or "DataFormatError"; any other exception propagates."""
    index, files = case
    reader, main, _ = CASES[index]
    folder = Path(tempfile.mkdtemp(prefix="xstilts-fuzz-"))
    try:
        path = folder / Path(main).name
        for suffix, data in files.items():
            (path.with_suffix(suffix) if suffix else path).write_bytes(data)
        try:
            reader(path)
        except DataFormatError as err:
            assert str(err).startswith(str(err.path)) and "\n" not in str(err), str(err)
            return "DataFormatError"
        return "parsed"
    finally:
        shutil.rmtree(folder)


def test_every_reader_parses_or_raises_one_data_format_error():
    cases, outcomes = [], Counter()

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(fuzz_case())
    def check(case):
        cases.append(case[0])
        outcomes[read_case(case)] += 1

    check()
    print(f"reader fuzz: {len(cases)} cases over {len(set(cases))} of {len(CASES)} reader/format pairs: {dict(outcomes)}")
    assert len(set(cases)) == len(CASES), "every reader was fuzzed"
