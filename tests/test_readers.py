"""Unit tests of the readers on tiny official-format fixtures, malformed inputs, and the
HuggingFace dummy samples staged under shared/data/hf_dummy_samples."""

from __future__ import annotations

import json
import logging

import pytest

from xstilts.data.examples import (ClassificationExample, MultipleChoiceExample, RetrievalCorpus, SpanQAExample,
                                   TaggingExample)
from xstilts.data.readers import (TATOEBA_ISO3, answer_mismatches, read_anli_jsonl, read_bucc, read_ccg,
                                  read_commonsenseqa, read_conllu, read_cosmosqa, read_glue_mnli, read_glue_qqp,
                                  read_hellaswag, read_hf_qa, read_nli_tsv, read_panx, read_pawsx_tsv,
                                  read_snli_jsonl, read_squad_json, read_tag_vocab, read_tatoeba,
                                  read_xnli_official)
from xstilts.errors import DataFormatError

# ---------------------------------------------------------------- span QA


def test_squad_v1(fixtures, caplog):
    with caplog.at_level(logging.INFO):
        ex = read_squad_json(fixtures / "squad/dev-v1.1.json")
    assert [e.guid for e in ex] == ["q1", "q2", "q3"]
    assert all(isinstance(e, SpanQAExample) and e.title == "Rhine" and not e.is_impossible for e in ex)
    assert ex[0].answers[1] == {"text": "North Sea", "answer_start": ex[0].context.index("North Sea")}
    assert answer_mismatches(ex) == 1  # q2's offset is off by one: kept, only counted
    assert ex[1].answers[0]["answer_start"] == ex[1].context.index("1,230") + 1
    assert "1 of 4 answer(s) do not match" in caplog.text


def test_squad_v2_impossible(fixtures):
    possible, impossible = read_squad_json(fixtures / "squad_v2/dev-v2.0.json")
    assert not possible.is_impossible and possible.answers[0]["text"] == "the Alps"
    assert impossible.is_impossible and impossible.answers == []  # plausible_answers dropped


@pytest.mark.parametrize("name", ["validation.jsonl", "validation.json"])
def test_hf_qa_json(fixtures, name):
    ex = read_hf_qa(fixtures / "hf_qa" / name)
    assert [e.guid for e in ex] == ["h1", "h2"]
    assert ex[0].answers == [{"text": "the Alps", "answer_start": ex[0].context.index("the Alps")}]
    assert ex[1].answers == [] and ex[1].is_impossible and ex[1].title == "Basel"


def test_hf_qa_json_squad_and_list(fixtures, tmp_path):
    assert len(read_hf_qa(fixtures / "squad/dev-v1.1.json")) == 3  # SQuAD-format JSON is accepted too
    records = [json.loads(line) for line in (fixtures / "hf_qa/validation.jsonl").read_text().splitlines()]
    (tmp_path / "list.json").write_text(json.dumps(records))
    (tmp_path / "lines.json").write_text("".join(json.dumps(r) + "\n" for r in records))  # Dataset.to_json
    assert [e.guid for e in read_hf_qa(tmp_path / "list.json")] == ["h1", "h2"]
    assert [e.guid for e in read_hf_qa(tmp_path / "lines.json")] == ["h1", "h2"]


def _qa_rows():
    return {"id": ["m1", "m2"], "title": ["", ""], "context": ["Bonn liegt am Rhein.", "Köln ist groß."],
            "question": ["Woran liegt Bonn?", "Wie ist Köln?"],
            "answers": [{"text": ["am Rhein"], "answer_start": [11]}, {"text": ["groß"], "answer_start": [9]}]}


def test_hf_qa_save_to_disk(tmp_path):
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict(_qa_rows())
    ds.save_to_disk(str(tmp_path / "single"))
    ex = read_hf_qa(tmp_path / "single")
    assert [e.guid for e in ex] == ["m1", "m2"] and ex[0].answers == [{"text": "am Rhein", "answer_start": 11}]
    datasets.DatasetDict({"validation": ds, "test": ds.select([0])}).save_to_disk(str(tmp_path / "dict"))
    assert len(read_hf_qa(tmp_path / "dict", split="test")) == 1
    with pytest.raises(DataFormatError, match="pass split="):
        read_hf_qa(tmp_path / "dict")
    with pytest.raises(DataFormatError, match="split 'train' is not on disk"):
        read_hf_qa(tmp_path / "dict", split="train")


def test_hf_qa_arrow_stream_fallback(tmp_path, caplog):
    """A bare folder of Arrow IPC stream files (no state.json) is read with pyarrow."""
    pa = pytest.importorskip("pyarrow")
    table = pa.Table.from_pydict(_qa_rows())
    (tmp_path / "validation").mkdir()
    with pa.OSFile(str(tmp_path / "validation/data-00000-of-00001.arrow"), "wb") as sink:
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
    (tmp_path / "dataset_dict.json").write_text(json.dumps({"splits": ["test", "validation"]}))  # test absent
    with caplog.at_level(logging.INFO):
        ex = read_hf_qa(tmp_path)
    assert "reading the Arrow files with pyarrow" in caplog.text  # load_from_disk refused it
    assert [e.guid for e in ex] == ["m1", "m2"] and ex[1].answers == [{"text": "groß", "answer_start": 9}]

# ---------------------------------------------------------------- classification


def test_nli_tsv(fixtures):
    ex = read_nli_tsv(fixtures / "xnli_xtreme/test-de.tsv")
    assert [e.label for e in ex] == ["entailment", "contradiction", "contradiction", "neutral"]
    assert ex[0] == ClassificationExample("test-de.tsv:1", "Der Hund schläft.", "Ein Tier ruht.", "entailment")
    assert ex[2].text_a == 'Er sagte "nein.'  # a lone quote is text, not CSV quoting


@pytest.mark.parametrize("name", ["xnli.test.tsv", "xnli.test.jsonl"])
def test_xnli_official(fixtures, name):
    path = fixtures / "XNLI-1.0" / name
    assert len(read_xnli_official(path)) == 4
    de = read_xnli_official(path, "de")
    assert [(e.guid, e.text_a, e.label) for e in de] == [("de-1", "Er kam heim.", "neutral"),
                                                         ("de-2", "Er kam heim.", "contradiction")]
    with pytest.raises(DataFormatError, match="no rows with language 'fr'; present: de, en"):
        read_xnli_official(path, "fr")


def test_glue_mnli(fixtures):
    dev = read_glue_mnli(fixtures / "glue/MNLI/dev_matched.tsv")
    assert [(e.guid, e.label) for e in dev] == [("11n", "entailment"), ("12c", "contradiction")]
    assert dev[1].text_a == 'He said "hi.'
    test = read_glue_mnli(fixtures / "glue/MNLI/test_matched.tsv")
    assert test == [ClassificationExample("21", "Rain fell.", "It was dry.", None)]


def test_glue_qqp(fixtures):
    dev = read_glue_qqp(fixtures / "glue/QQP/dev.tsv")
    assert [(e.guid, e.label) for e in dev] == [("7", "1"), ("8", "0")]
    assert dev[0].text_b == "What is the best way to learn Python?"
    assert read_glue_qqp(fixtures / "glue/QQP/test.tsv")[0].label is None


def test_anli_and_snli(fixtures):
    anli = read_anli_jsonl(fixtures / "anli_v1.0/R1/dev.jsonl")
    assert [(e.guid, e.label) for e in anli] == [("u1", "entailment"), ("u2", "contradiction"), ("u3", "neutral")]
    assert anli[0].text_a.startswith("Paris") and anli[0].text_b == "France has a capital."
    snli = read_snli_jsonl(fixtures / "snli_1.0/snli_1.0_dev.jsonl")
    assert [(e.guid, e.label) for e in snli] == [("p1n", "neutral"), ("p1e", "entailment")]  # "-" skipped


def test_pawsx(fixtures):
    official = read_pawsx_tsv(fixtures / "x-final/de/dev_2k.tsv")
    assert [(e.guid, e.label) for e in official] == [("4", "1"), ("6", "0")]
    processed = read_pawsx_tsv(fixtures / "pawsx_xtreme/dev-de.tsv")
    assert [(e.text_a, e.text_b, e.label) for e in processed] == [(e.text_a, e.text_b, e.label) for e in official]
    assert processed[1].guid == "dev-de.tsv:2"

# ---------------------------------------------------------------- multiple choice


def test_hellaswag_jsonl(fixtures):
    ex = read_hellaswag(fixtures / "hellaswag/hellaswag_val.jsonl")
    assert ex[0] == MultipleChoiceExample("24", "A man is sitting on a roof.", "", [
        "he wraps skis.", "he rips tiles off.", "he holds a cube.", "he pulls up roofing."], 3)
    assert ex[1].choices[0] == "She cracks an egg." and ex[1].label == 0  # empty ctx_b: no leading space
    assert read_hellaswag(fixtures / "hellaswag/hellaswag_test.jsonl")[0].label is None


def test_hellaswag_txt(fixtures):
    ex = read_hellaswag(fixtures / "hellaswag/hellaswag_val_full.txt")
    assert [e.guid for e in ex] == ["hellaswag_val_full.txt:1", "hellaswag_val_full.txt:7"]
    assert ex[0].context == "Roof work: A man is sitting on a roof. he"
    assert ex[0].choices == ["wraps skis.", "rips tiles off.", "holds a cube.", "pulls up roofing."]
    assert [e.label for e in ex] == [3, 0]


def test_cosmosqa(fixtures):
    ex = read_cosmosqa(fixtures / "cosmosqa/valid.csv")
    assert ex[0].context == "I went out , and it rained .\nI got wet ." and ex[0].label == 0
    assert ex[0].choices[1] == "I swam , of course ." and ex[0].question == "Why did I get wet ?"
    assert ex[1].context == 'She said "hi" .' and ex[1].label == 1 and ex[1].guid == "c2"
    test = read_cosmosqa(fixtures / "cosmosqa/test.jsonl")
    assert test[0].label is None and len(test[0].choices) == 4


@pytest.mark.parametrize("name", ["dev_rand_split.jsonl", "dev_rand_split.hf_schema.jsonl"])
def test_commonsenseqa(fixtures, name):
    ex = read_commonsenseqa(fixtures / "commonsenseqa" / name)
    assert ex[1] == MultipleChoiceExample("k2", "", "What barks?", ["cat", "dog", "fish", "bird", "cow"], 1)
    assert ex[0].label == 0


def test_commonsenseqa_test(fixtures):
    ex = read_commonsenseqa(fixtures / "commonsenseqa/test_rand_split_no_answers.jsonl")
    assert [e.label for e in ex] == [None, None] and len(ex[0].choices) == 5

# ---------------------------------------------------------------- tagging


def test_conllu(fixtures):
    first, second = read_conllu(fixtures / "ud/en_ewt-ud-dev.conllu")
    assert first == TaggingExample("doc1-0001", ["I", "ca", "n't", "go", "."], ["PRON", "AUX", "PART", "VERB", "PUNCT"])
    assert second.guid == "en_ewt-ud-dev.conllu:11"  # no sent_id: file:line of the sentence
    assert second.tokens == ["Sue", "likes", "tea", ",", "Bob", "coffee"]  # empty node 5.1 skipped
    assert read_conllu(fixtures / "ud/en_ewt-ud-dev.conllu", tag_column="xpos")[0].tags[1] == "MD"
    assert read_conllu(fixtures / "ud/en_ewt-ud-dev.conllu", tag_column=None)[0].tags is None


def test_panx(fixtures):
    a, b = read_panx(fixtures / "wikiann/de/dev")
    assert a == TaggingExample("dev:1", ["Angela", "Merkel", "besucht", "Paris"], ["B-PER", "I-PER", "O", "B-LOC"])
    assert b.tokens == ["10:30", "Uhr"]  # only the prefix up to the first colon is removed
    a, b = read_panx(fixtures / "panx_xtreme/dev-de.tsv")
    assert a.tokens == ["Angela", "Merkel"] and b.tokens == ["http://example.org", "Uhr"]


def test_panx_untagged(tmp_path):
    (tmp_path / "test-de.tsv").write_text("Angela\nMerkel\n\nParis\n")
    assert [(e.tokens, e.tags) for e in read_panx(tmp_path / "test-de.tsv")] == [
        (["Angela", "Merkel"], None), (["Paris"], None)]


def test_ccg(fixtures):
    ex = read_ccg(fixtures / "ccg/dev.txt")
    assert ex[0] == TaggingExample("dev.txt:1", ["Dogs", "bark", "."], ["N", "S\\NP", "."])
    assert ex[1].guid == "dev.txt:3" and ex[1].tags[2] == "(S\\NP)\\(S\\NP)"
    assert read_tag_vocab(fixtures / "ccg/tags.txt") == ["N", "S\\NP", "(S\\NP)\\(S\\NP)", "."]

# ---------------------------------------------------------------- retrieval


def test_tatoeba(fixtures):
    corpus = read_tatoeba(fixtures / "tatoeba/tatoeba.deu-eng.deu")  # .eng side derived
    assert corpus == read_tatoeba(fixtures / "tatoeba/tatoeba.deu-eng.deu", fixtures / "tatoeba/tatoeba.deu-eng.eng")
    assert isinstance(corpus, RetrievalCorpus)
    assert corpus.src_ids == corpus.trg_ids == ["1", "2", "3"]
    assert corpus.gold == [("1", "1"), ("2", "2"), ("3", "3")]
    assert corpus.src_texts[2] == "Das ist\rgut."  # a stray \r does not split a line
    assert corpus.trg_texts[1] == "Where is the station?"


def test_tatoeba_iso3():
    assert len(TATOEBA_ISO3) == 36 and len(set(TATOEBA_ISO3.values())) == 36
    assert (TATOEBA_ISO3["fa"], TATOEBA_ISO3["sw"], TATOEBA_ISO3["zh"]) == ("pes", "swh", "cmn")


def test_bucc(fixtures):
    d = fixtures / "bucc2018"
    corpus = read_bucc(d / "de-en.sample.de", d / "de-en.sample.en", d / "de-en.sample.gold")
    assert corpus.src_ids == ["de-000000001", "de-000000002", "de-000000003"]
    assert corpus.trg_texts[2] == "The weather is nice."
    assert corpus.gold == [("de-000000001", "en-000000003"), ("de-000000002", "en-000000001")]
    assert read_bucc(d / "de-en.sample.de") == corpus  # .en and .gold derived
    assert read_bucc(d / "de-en.sample.de", d / "de-en.sample.en").gold == []  # test sets: no gold

# ---------------------------------------------------------------- malformed input

T = "\t"
CONLLU_OK = "1\tHi\thi\tINTJ\tUH\t_\t0\troot\t0:root\t_\n"
SQUAD = {"data": [{"title": "t", "paragraphs": [{"context": "abc", "qas": [
    {"id": "1", "question": "q", "answers": [{"text": "a", "answer_start": 0}]}]}]}]}


def _squad(**answer):
    doc = json.loads(json.dumps(SQUAD))
    doc["data"][0]["paragraphs"][0]["qas"][0]["answers"][0].update(answer)
    return json.dumps(doc)


def _tatoeba_unequal(tmp_path):
    (tmp_path / "tatoeba.deu-eng.eng").write_text("a\nb\n")
    return tmp_path / "tatoeba.deu-eng.deu"


def _bucc_sides(tmp_path):
    (tmp_path / "de-en.sample.de").write_text("de-1\tHallo\n")
    (tmp_path / "de-en.sample.en").write_text("en-1\tHello\n")
    return tmp_path / "de-en.sample.gold"


# (reader, file name, content, expected line or None, fragment of the message, extra setup)
MALFORMED = [
    (read_squad_json, "dev-v1.1.json", '{"data": [\n{"title": "x",\n"paragraphs": ]}', 3, "invalid JSON", None),
    (read_squad_json, "dev-v1.1.json", json.dumps({"version": "1.1"}), None, "missing field 'data'", None),
    (read_squad_json, "dev-v1.1.json", _squad(answer_start="0"), None,
     "data[0].paragraphs[0].qas[0].answers[0].answer_start': expected an integer, got str", None),
    (read_squad_json, "dev-v1.1.json", _squad(answer_start=9), None, "answer_start = 9 lies outside", None),
    (read_squad_json, "dev-v1.1.json", json.dumps({"data": [{"paragraphs": [{"qas": []}]}]}), None,
     "missing field 'data[0].paragraphs[0].context'", None),
    (read_hf_qa, "dev.jsonl", '{"id": "1", "question": "q", "context": "c", "answers": {"text": [], '
     '"answer_start": []}}\n{"id": "2", "context": "c", "answers": {"text": [], "answer_start": []}}\n', 2,
     "missing field 'question'", None),
    (read_hf_qa, "dev.jsonl", '{"id": "1", "question": "q", "context": "c", "answers": {"text": ["c"], '
     '"answer_start": []}}\n', 1, "1 texts but 0 answer_start", None),
    (read_nli_tsv, "test-de.tsv", f"a{T}b{T}neutral\na{T}b\n", 2, "expected 3 tab-separated fields", None),
    (read_nli_tsv, "test-de.tsv", f"a{T}b{T}neutral\n\na{T}b{T}maybe\n", 3, "got 'maybe'", None),
    (read_xnli_official, "xnli.dev.tsv", f"language{T}sentence1{T}sentence2\n", 1, "lacks column(s) gold_label", None),
    (read_xnli_official, "xnli.dev.tsv", f"language{T}gold_label{T}sentence1{T}sentence2\nde{T}neutral{T}a{T}b\n"
     f"de{T}neutral{T}a\n", 3, "expected 4 tab-separated fields", None),
    (read_xnli_official, "xnli.dev.jsonl", '{"language": "de", "gold_label": "neutral", "sentence1": "a"}\n', 1,
     "missing field 'sentence2'", None),
    (read_glue_mnli, "dev_matched.tsv", f"index{T}sentence1{T}sentence2{T}gold_label\n0{T}a{T}b{T}-\n", 2,
     "gold_label: expected one of", None),
    (read_glue_qqp, "dev.tsv", f"id{T}qid1{T}qid2{T}question1{T}question2{T}is_duplicate\n1{T}1{T}2{T}a{T}b{T}1\n"
     f"2{T}3{T}4{T}c{T}d{T}2\n", 3, "is_duplicate: expected 0 or 1", None),
    (read_anli_jsonl, "dev.jsonl", '{"uid": "u", "context": "c", "hypothesis": "h", "label": "x"}\n', 1,
     "expected one of e, n, c", None),
    (read_anli_jsonl, "dev.jsonl", '{"uid": "u", "context": "c", "hypothesis": "h", "label": "e"}\n{"uid": \n', 2,
     "invalid JSON", None),
    (read_snli_jsonl, "snli_1.0_dev.jsonl", '{"gold_label": "neutral", "sentence1": "a", "pairID": "p"}\n', 1,
     "missing field 'sentence2'", None),
    (read_pawsx_tsv, "dev_2k.tsv", f"id{T}sentence1{T}sentence2{T}label\n1{T}a{T}b{T}1\n2{T}a{T}b{T}yes\n", 3,
     "expected 0 or 1", None),
    (read_pawsx_tsv, "dev_2k.tsv", f"id{T}sentence1{T}sentence2{T}label\n1{T}a{T}b{T}1{T}x\n", 2,
     "expected 4 tab-separated fields", None),
    (read_pawsx_tsv, "dev_2k.tsv", f"id{T}s1{T}s2{T}label\n", 1, "expected the header", None),
    (read_conllu, "x-ud-dev.conllu", "# sent_id = 1\n1\tHi\thi\tINTJ\n", 2, "expected 10 tab-separated", None),
    (read_conllu, "x-ud-dev.conllu", CONLLU_OK + "\n" + CONLLU_OK.replace("1", "x", 1), 3, "ID: expected", None),
    (read_conllu, "x-ud-dev.conllu", CONLLU_OK + "\n# sent_id = 2\n\n", 3, "sentence without any word", None),
    (read_panx, "dev", "de:Berlin\tB-LOC\nde:liegt\tX\n", 2, "expected a BIO tag", None),
    (read_panx, "dev", "de:Berlin\tB-LOC\tO\n", 1, "expected `token<TAB>TAG`", None),
    (read_panx, "dev", "Berlin\tB-LOC\nliegt\n", 1, "mixes tagged and untagged", None),
    (read_ccg, "dev.txt", "a b\tN N\nc d\tN\n", 2, "2 tokens and 1 tags", None),
    (read_ccg, "dev.txt", "a b N N\n", 1, "expected `tokens<TAB>tags`", None),
    (read_tag_vocab, "tags.txt", "N\nNP\nN\n", 3, "repeats line 1", None),
    (read_hellaswag, "hellaswag_val_full.txt", "ctx\n1\na\nb\nc\nd\nctx2\n0\na\n", 7, "incomplete example", None),
    (read_hellaswag, "hellaswag_val_full.txt", "ctx\n1\na\nb\nc\nd\nctx2\nfour\na\nb\nc\nd\n", 8,
     "expected an index 0..3", None),
    (read_hellaswag, "hellaswag_val.jsonl", '{"ctx_a": "a", "ctx_b": "b", "endings": ["x", "y", "z"]}\n', 1,
     "endings: expected 4 strings", None),
    (read_cosmosqa, "valid.csv", "id,context,question,answer0,answer1,answer2,answer3,label\n"
     'c1,"multi\nline",q,a,b,c,d,0\nc2,ctx,q,a,b,c,d\n', 4, "expected 8 comma-separated", None),
    (read_cosmosqa, "valid.csv", "id,context,question,answer0,answer1,answer2,answer3,label\nc1,x,q,a,b,c,d,7\n", 2,
     "expected an index 0..3", None),
    (read_cosmosqa, "valid.csv", "id,context,answer0\n", 1, "expected a header", None),
    (read_commonsenseqa, "dev_rand_split.jsonl", json.dumps({"id": "k", "answerKey": "F", "question": {
        "stem": "s", "choices": [{"label": "A", "text": "t"}]}}) + "\n", 1, "answerKey 'F' is not one of", None),
    (read_commonsenseqa, "dev_rand_split.jsonl", json.dumps({"id": "k", "question": {"stem": "s", "choices": [
        {"label": "A"}]}}) + "\n", 1, "missing field 'question.choices[0].text'", None),
    (read_tatoeba, "tatoeba.deu-eng.deu", "a\nb\nc\n", None, "has 3 lines but its aligned file", _tatoeba_unequal),
    (read_tatoeba, "tatoeba.deu-eng.deu", b"ok\n\xff\xfe bad\n", 2, "not valid UTF-8", None),
    (read_bucc, "de-en.sample.de", "de-1 Hallo\n", 1, "expected `id<TAB>sentence`", None),
    (read_bucc, "de-en.sample.de", "de-1\tHallo\nde-1\tWelt\n", 2, "already used on line 1", None),
]


@pytest.mark.parametrize("reader,name,content,line,fragment,setup", MALFORMED,
                         ids=[f"{r.__name__}-{i}" for i, (r, *_rest) in enumerate(MALFORMED)])
def test_malformed(tmp_path, reader, name, content, line, fragment, setup):
    path = tmp_path / name
    if setup is not None:
        setup(tmp_path)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(DataFormatError) as err:
        reader(path)
    message = str(err.value)
    assert name in message and fragment in message, message
    assert err.value.line == line
    if line is not None:
        assert f"{name}:{line}: " in message


def test_malformed_tatoeba_names_both_files(tmp_path):
    path = _tatoeba_unequal(tmp_path)
    path.write_text("a\n")
    with pytest.raises(DataFormatError) as err:
        read_tatoeba(path)
    assert "tatoeba.deu-eng.deu" in str(err.value) and "tatoeba.deu-eng.eng" in str(err.value)


def test_malformed_bucc_gold(tmp_path):
    gold = _bucc_sides(tmp_path)
    gold.write_text("de-1\ten-1\nde-1\ten-9\n")
    with pytest.raises(DataFormatError, match=r"de-en\.sample\.gold:2: target id 'en-9' is not in"):
        read_bucc(tmp_path / "de-en.sample.de")


def test_missing_file(tmp_path):
    with pytest.raises(DataFormatError, match="file not found"):
        read_nli_tsv(tmp_path / "nope.tsv")


def test_bad_tag_column(fixtures):
    with pytest.raises(ValueError, match="tag_column"):
        read_conllu(fixtures / "ud/en_ewt-ud-dev.conllu", tag_column="pos")

# ---------------------------------------------------------------- HF dummy samples (official formats)

DUMMY = "hf_dummy_samples"


@pytest.mark.shared_data
def test_dummy_squad_format(shared_data):
    files = sorted((shared_data / DUMMY).glob("**/*.json"))
    assert len(files) == 17  # MLQA 14, SQuAD v2 1, TyDiQA-GoldP 2
    for path in files:
        ex = read_squad_json(path)
        assert ex and answer_mismatches(ex) == 0 and all(e.answers for e in ex), path
    assert [e.guid for e in read_squad_json(shared_data / DUMMY / "squad_v2/dev-v2.0.json")] == [
        "56ddde6b9a695914005b9628", "56ddde6b9a695914005b9629"]


@pytest.mark.shared_data
def test_dummy_classification(shared_data):
    d = shared_data / DUMMY
    for path in sorted(d.glob("anli_v0.1/R*/*.jsonl")):
        assert len(read_anli_jsonl(path)) == 3, path
    counts = {p.name: len(read_glue_mnli(p)) for p in sorted(d.glob("glue/MNLI/*.tsv"))}
    assert counts == {"dev_matched.tsv": 2, "dev_mismatched.tsv": 2, "test_matched.tsv": 1,
                      "test_mismatched.tsv": 1, "train.tsv": 3}
    assert read_glue_mnli(d / "glue/MNLI/test_matched.tsv")[0].label is None
    assert [len(read_glue_qqp(d / f"glue/QQP/{s}.tsv")) for s in ("train", "dev", "test")] == [3, 2, 1]
    pawsx = sorted(d.glob("pawsx/*/*.tsv"))
    assert len(pawsx) == 21 and all(len(read_pawsx_tsv(p)) == 4 for p in pawsx)
    for split in ("dev", "test"):
        tsv = read_xnli_official(d / f"xnli/XNLI-1.0/xnli.{split}.tsv")
        assert len(tsv) == 15 and len({e.guid.split("-")[0] for e in tsv}) == 15
        assert len(read_xnli_official(d / f"xnli/XNLI-1.0/xnli.{split}.jsonl", "ar")) == 5


@pytest.mark.shared_data
def test_dummy_multiple_choice(shared_data):
    d = shared_data / DUMMY
    assert [e.label for e in read_hellaswag(d / "hellaswag/hellaswag_val.jsonl")] == [3, 3]
    assert read_hellaswag(d / "hellaswag/hellaswag_test.jsonl")[0].label is None
    assert len(read_cosmosqa(d / "cosmosqa/train.csv")) == 2 and len(read_cosmosqa(d / "cosmosqa/valid.csv")) == 2
    assert [e.label for e in read_cosmosqa(d / "cosmosqa/test.jsonl")] == [None, None]
    assert len(read_commonsenseqa(d / "commonsenseqa/train_rand_split.jsonl")) == 5
    assert [e.label for e in read_commonsenseqa(d / "commonsenseqa/dev_rand_split.jsonl")] == [0, 0]
    assert [e.label for e in read_commonsenseqa(d / "commonsenseqa/test_rand_split_no_answers.jsonl")] == [None, None]


@pytest.mark.shared_data
def test_dummy_panx(shared_data):
    files = sorted((shared_data / DUMMY / "wikiann_panx").glob("*/*"))
    assert len(files) == 40 * 3
    for path in files:
        (sentence,) = read_panx(path)
        assert len(sentence.tokens) == len(sentence.tags) > 0, path
        assert not any(t.startswith(f"{path.parent.name}:") for t in sentence.tokens), path
    assert read_panx(shared_data / DUMMY / "wikiann_panx/en/dev")[0].tokens[:3] == ["Sioux", "Falls", "Arena"]
