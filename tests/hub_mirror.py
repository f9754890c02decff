"""Local mirrors of the Hub repos and release URLs that tasks/*.py DOWNLOADS declare.

Each repo is laid out as on the Hub: Parquet files `{config}/{split}-00000-of-00001.parquet` named by
the README's `configs:` metadata, or, for the Parquet-conversion branch of loading-script repos,
`default/{split}/0000.parquet` found by `datasets`' own file-name inference. Rows come from the format
samples in shared/data/hf_dummy_samples (and a few staged files), put into each repo's schema.
"""

from __future__ import annotations

import csv
import io
import json
import tarfile
from pathlib import Path

import yaml
from datasets import ClassLabel, Dataset, Features, Sequence, Value

from xstilts.data import readers as R
from xstilts.data.sources import Url, parts
from xstilts.data.writers import TYDIQA_NAMES
from xstilts.tasks.registry import DOWNLOADS
from xstilts.tasks.tagging import PANX_TAGS, UPOS_TAGS

NLI = ClassLabel(names=["entailment", "neutral", "contradiction"])
QA = Features({"id": Value("string"), "title": Value("string"), "context": Value("string"),
               "question": Value("string"),
               "answers": Sequence({"text": Value("string"), "answer_start": Value("int32")})})


def _qa_rows(examples, limit=8, id_prefix=""):
    return [{"id": id_prefix + e.guid, "title": e.title, "context": e.context, "question": e.question,
             "answers": {"text": [a["text"] for a in e.answers], "answer_start": [a["answer_start"] for a in e.answers]}}
            for e in examples[:limit]]


def _nli_rows(examples):
    return [{"premise": e.text_a, "hypothesis": e.text_b, "label": NLI.str2int(e.label)} for e in examples]


class Rows:
    """(repo, config, split, lang) -> (rows, features) in the repo's schema."""

    def __init__(self, shared: Path):
        self.shared, self.dummy = shared, shared / "hf_dummy_samples"

    def __call__(self, repo, config, split, lang):
        name = repo.split("/")[1].replace("-", "_") + "_" + (config or "default").split(".")[0].replace("-", "_").lower()
        return getattr(self, name)(split, lang)

    def glue_mnli(self, split, lang):
        file = {"train": "train.tsv", "validation_matched": "dev_matched.tsv"}[split]
        rows = [dict(r, idx=i) for i, r in enumerate(_nli_rows(R.read_glue_mnli(self.dummy / "glue/MNLI" / file)))]
        return rows, Features(premise=Value("string"), hypothesis=Value("string"), label=NLI, idx=Value("int32"))

    def glue_qqp(self, split, lang):
        examples = R.read_glue_qqp(self.dummy / "glue/QQP" / {"train": "train.tsv", "validation": "dev.tsv"}[split])
        rows = [{"question1": e.text_a, "question2": e.text_b, "label": int(e.label), "idx": i} for i, e in enumerate(examples)]
        return rows, Features(question1=Value("string"), question2=Value("string"),
                              label=ClassLabel(names=["not_duplicate", "duplicate"]), idx=Value("int32"))

    def anli_plain_text(self, split, lang):
        kind, r = split.split("_r")
        examples = R.read_anli_jsonl(self.dummy / f"anli_v0.1/R{r}/{kind}.jsonl")
        rows = [dict(row, uid=e.guid, reason="") for row, e in zip(_nli_rows(examples), examples)]
        return rows, Features(uid=Value("string"), premise=Value("string"), hypothesis=Value("string"), label=NLI,
                              reason=Value("string"))

    def snli_plain_text(self, split, lang):  # no sample staged: MNLI's, plus a row without gold (-1)
        rows, _ = self.glue_mnli("train", lang)
        rows = [{k: r[k] for k in ("premise", "hypothesis", "label")} for r in rows]
        return rows + [dict(rows[0], label=-1)], Features(premise=Value("string"), hypothesis=Value("string"), label=NLI)

    def xtreme_xnli(self, split, lang):
        file = self.dummy / f"xnli/XNLI-1.0/xnli.{ {'validation': 'dev'}.get(split, split)}.tsv"
        rows = [{"language": e.guid.split("-")[0], "sentence1": e.text_a, "sentence2": e.text_b, "gold_label": e.label}
                for e in R.read_xnli_official(file)]
        return rows, Features({k: Value("string") for k in ("language", "sentence1", "sentence2", "gold_label")})

    def xtreme_paws_x(self, split, lang):
        file = {"validation": "dev_2k.tsv", "test": "test_2k.tsv", "train": "train.tsv"}[split]
        rows = [{"sentence1": e.text_a, "sentence2": e.text_b, "label": e.label}
                for e in R.read_pawsx_tsv(self.dummy / "pawsx" / lang / file)]
        return rows, Features({k: Value("string") for k in ("sentence1", "sentence2", "label")})

    def squad_plain_text(self, split, lang):
        return _qa_rows(R.read_squad_json(self.shared / "squad/dev-v1.1.json"), 24 if split == "train" else 8), QA

    def squad_v2_squad_v2(self, split, lang):
        return _qa_rows(R.read_squad_json(self.dummy / "squad_v2/dev-v2.0.json")), QA

    def xtreme_xquad(self, split, lang):
        return _qa_rows(R.read_squad_json(self.shared / f"xquad/xquad.{lang}.json")), QA

    def xtreme_mlqa(self, split, lang):
        return _qa_rows(R.read_squad_json(self.dummy / f"mlqa/MLQA_V1/test/test-context-en-question-{lang}.json")), QA

    def xtreme_tydiqa(self, split, lang):  # every language in one split, as on the Hub
        file = self.dummy / f"tydiqa_goldp/tydiqa-goldp-v1.1-{ {'validation': 'dev'}.get(split, split)}.json"
        examples = R.read_squad_json(file)
        return [row for name in TYDIQA_NAMES.values() for row in _qa_rows(examples, id_prefix=f"{name}-")], QA

    def xtreme_udpos(self, split, lang):
        treebanks = sorted(self.shared.glob(f"ud/*/{lang}_*-ud-test.conllu")) if split == "test" else []
        examples = R.read_conllu(treebanks[0] if treebanks else self.shared / "ud/English-EWT/en_ewt-ud-dev.conllu")[:6]
        rows = [{"tokens": e.tokens, "pos_tags": [UPOS_TAGS.index(t) for t in e.tags]} for e in examples]
        return rows, Features(tokens=Sequence(Value("string")), pos_tags=Sequence(ClassLabel(names=list(UPOS_TAGS))))

    def xtreme_pan_x(self, split, lang):
        file = {"validation": "dev"}.get(split, split)
        rows = [{"tokens": e.tokens, "ner_tags": [PANX_TAGS.index(t) for t in e.tags], "langs": [lang] * len(e.tokens)}
                for e in R.read_panx(self.dummy / "wikiann_panx" / lang / file)]
        return rows, Features(tokens=Sequence(Value("string")), ner_tags=Sequence(ClassLabel(names=list(PANX_TAGS))),
                              langs=Sequence(Value("string")))

    def xtreme_tatoeba(self, split, lang):
        iso3 = R.TATOEBA_ISO3[lang]
        corpus = R.read_tatoeba(self.shared / f"tatoeba/tatoeba.{iso3}-eng.{iso3}")
        rows = [{"source_sentence": s, "target_sentence": t, "source_lang": iso3, "target_lang": "eng"}
                for s, t in zip(corpus.src_texts[:20], corpus.trg_texts[:20])]
        return rows, Features({k: Value("string") for k in rows[0]})

    def hellaswag_default(self, split, lang):
        file = self.dummy / f"hellaswag/hellaswag_{ {'validation': 'val'}.get(split, split)}.jsonl"
        rows = [json.loads(line) for line in file.read_text().splitlines() if line.strip()]
        rows = [dict(r, label=str(r.get("label", "")), source_id=str(r.get("source_id", ""))) for r in rows]
        columns = ("ind", "activity_label", "ctx_a", "ctx_b", "ctx", "endings", "source_id", "split", "split_type", "label")
        rows = [{k: r[k] for k in columns} for r in rows]
        return rows, Features({**{k: Value("string") for k in columns}, "ind": Value("int32"),
                               "endings": Sequence(Value("string"))})

    def cosmos_qa_default(self, split, lang):
        file = self.dummy / f"cosmosqa/{ {'validation': 'valid'}.get(split, split)}.csv"
        rows = [dict(r, label=int(r["label"])) for r in csv.DictReader(io.StringIO(file.read_text()))]
        return rows, Features({**{k: Value("string") for k in rows[0]}, "label": Value("int32")})

    def commonsense_qa_default(self, split, lang):
        file = self.dummy / f"commonsenseqa/{ {'validation': 'dev'}.get(split, split)}_rand_split.jsonl"
        records = [json.loads(line) for line in file.read_text().splitlines() if line.strip()]
        rows = [{"id": r["id"], "question": r["question"]["stem"], "question_concept": r["question"]["question_concept"],
                 "choices": {"label": [c["label"] for c in r["question"]["choices"]],
                             "text": [c["text"] for c in r["question"]["choices"]]},
                 "answerKey": r["answerKey"]} for r in records]
        return rows, Features(id=Value("string"), question=Value("string"), question_concept=Value("string"),
                              choices=Sequence({"label": Value("string"), "text": Value("string")}),
                              answerKey=Value("string"))


def _bucc_archive(path: Path, lang: str, release: str) -> None:
    """A small BUCC release: 6 sentences a side, 4 of them gold translation pairs."""
    members = {
        lang: "".join(f"{lang}-{release}-{i:06d}\t{lang} sentence number {i}\n" for i in range(6)),
        "en": "".join(f"en-{release}-{i:06d}\tEnglish sentence number {i}\n" for i in range(6)),
        "gold": "".join(f"{lang}-{release}-{i:06d}\ten-{release}-{i:06d}\n" for i in range(4)),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:bz2") as tar:
        for side, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(f"bucc2018/{lang}-en/{lang}-en.{release}.{side}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def build_mirror(root: Path, shared: Path) -> Path:
    """Every declared Hub repo and URL under root (DIR/owner/name, DIR/host/path)."""
    rows = Rows(shared)
    configs: dict[str, dict[str, set]] = {}
    for declarations in DOWNLOADS.values():
        for part in parts(declarations):
            source = part.source
            if isinstance(source, Url):
                release = "sample" if ".sample-" in part.origin else "training"
                _bucc_archive(root / part.origin.split("://", 1)[1], part.lang, release)
                continue
            config = part.fmt(source.config) if source.config else None
            for split in part.outputs:
                data, features = rows(source.repo, config, split, part.lang)
                if config is None:  # the Parquet-conversion branch layout: default/{split}/0000.parquet
                    target = root / source.repo / "default" / split / "0000.parquet"
                else:
                    target = root / source.repo / config / f"{split}-00000-of-00001.parquet"
                    configs.setdefault(source.repo, {}).setdefault(config, set()).add(split)
                target.parent.mkdir(parents=True, exist_ok=True)
                Dataset.from_list(data, features=features).to_parquet(str(target))
    for repo, splits in configs.items():
        card = {"configs": [{"config_name": config, "data_files": [{"split": s, "path": f"{config}/{s}-*"} for s in sorted(names)]}
                            for config, names in sorted(splits.items())]}
        (root / repo / "README.md").write_text(f"---\n{yaml.safe_dump(card)}---\n")
    return root
