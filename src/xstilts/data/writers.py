"""Write rows loaded with `datasets` into the files the readers read (see data/sources.py).

Every writer takes (dataset, path, lang), writes `path` (and, for bitexts, its aligned side) in the
format of the task's reader and returns the paths it wrote; class-label columns are written by name.
"""

from __future__ import annotations

import json
from pathlib import Path

TYDIQA_NAMES = {"ar": "arabic", "bn": "bengali", "en": "english", "fi": "finnish", "id": "indonesian",
                "ko": "korean", "ru": "russian", "sw": "swahili", "te": "telugu"}


def _names(dataset, column: str) -> list[str]:
    """Class names of a ClassLabel column (or of a Sequence of ClassLabel)."""
    feature = dataset.features[column]
    return list(getattr(feature, "feature", feature).names)


def _write_lines(path: Path, lines) -> list[Path]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.writelines(f"{line}\n" for line in lines)
    return [path]


def _tsv(path: Path, rows, header: tuple[str, ...] | None = None) -> list[Path]:
    # The readers split on tabs without quoting: a tab or newline inside a sentence becomes a space.
    clean = lambda value: " ".join(str(value).split("\t")).replace("\n", " ")
    return _write_lines(path, (["\t".join(header)] if header else []) + ["\t".join(map(clean, row)) for row in rows])


def _jsonl(path: Path, records) -> list[Path]:
    return _write_lines(path, (json.dumps(r, ensure_ascii=False) for r in records))


def squad_json(dataset, path: Path, lang: str, keep=lambda row: True) -> list[Path]:
    """HF QA rows (id, title, context, question, answers{text[], answer_start[]}) -> SQuAD JSON,
    paragraphs grouped by context in row order; no answer -> v2.0 `is_impossible`."""
    articles: dict[str, dict[str, list]] = {}
    for row in dataset:
        if not keep(row):
            continue
        answers = [{"text": t, "answer_start": int(s)} for t, s in zip(row["answers"]["text"], row["answers"]["answer_start"])]
        qa = {"id": str(row["id"]), "question": row["question"], "answers": answers}
        if not answers:
            qa["is_impossible"] = True
        articles.setdefault(row.get("title") or "", {}).setdefault(row["context"], []).append(qa)
    doc = {"version": "xstilts", "data": [
        {"title": title, "paragraphs": [{"context": c, "qas": qas} for c, qas in paragraphs.items()]}
        for title, paragraphs in articles.items()]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return [path]


def tydiqa_json(dataset, path: Path, lang: str) -> list[Path]:
    """TyDiQA-GoldP holds every language in one split; ids start with the language's name."""
    prefix = f"{TYDIQA_NAMES[lang]}-"
    return squad_json(dataset, path, lang, keep=lambda row: row["id"].startswith(prefix))


def nli_tsv(dataset, path: Path, lang: str) -> list[Path]:
    """premise, hypothesis, label (ClassLabel) -> headerless `premise<TAB>hypothesis<TAB>label`."""
    names = _names(dataset, "label")
    return _tsv(path, ((r["premise"], r["hypothesis"], names[r["label"]]) for r in dataset if r["label"] >= 0))


def xtreme_xnli_tsv(dataset, path: Path, lang: str) -> list[Path]:
    """google/xtreme XNLI (all languages in one split, string gold_label) -> one language's tsv."""
    return _tsv(path, ((r["sentence1"], r["sentence2"], r["gold_label"]) for r in dataset if r["language"] == lang))


def glue_mnli_tsv(dataset, path: Path, lang: str) -> list[Path]:
    names = _names(dataset, "label")
    return _tsv(path, ((r["idx"], r["premise"], r["hypothesis"], names[r["label"]]) for r in dataset if r["label"] >= 0),
         header=("index", "sentence1", "sentence2", "gold_label"))


def glue_qqp_tsv(dataset, path: Path, lang: str) -> list[Path]:
    return _tsv(path, ((r["idx"], r["question1"], r["question2"], r["label"]) for r in dataset if r["label"] >= 0),
         header=("id", "question1", "question2", "is_duplicate"))


def pawsx_tsv(dataset, path: Path, lang: str) -> list[Path]:
    """PAWS-X rows (id optional, string or int label) -> the official headed tsv."""
    return _tsv(path, ((r.get("id", i), r["sentence1"], r["sentence2"], r["label"]) for i, r in enumerate(dataset)),
         header=("id", "sentence1", "sentence2", "label"))


def anli_jsonl(dataset, path: Path, lang: str) -> list[Path]:
    names = _names(dataset, "label")  # entailment, neutral, contradiction -> e, n, c
    return _jsonl(path, ({"uid": r["uid"], "context": r["premise"], "hypothesis": r["hypothesis"],
                   "label": names[r["label"]][0]} for r in dataset if r["label"] >= 0))


def snli_jsonl(dataset, path: Path, lang: str) -> list[Path]:
    names = _names(dataset, "label")  # -1: no annotator majority, written as the official "-"
    return _jsonl(path, ({"sentence1": r["premise"], "sentence2": r["hypothesis"], "pairID": f"{path.stem}:{i}",
                   "gold_label": names[r["label"]] if r["label"] >= 0 else "-"} for i, r in enumerate(dataset)))


def conllu(dataset, path: Path, lang: str) -> list[Path]:
    """tokens + pos_tags (ClassLabel) -> CoNLL-U with FORM and UPOS filled."""
    names = _names(dataset, "pos_tags")
    lines = []
    for i, row in enumerate(dataset):
        lines.append(f"# sent_id = {path.stem}-{i + 1}")
        lines += [f"{k}\t{token}\t_\t{names[tag]}\t_\t_\t_\t_\t_\t_"
                  for k, (token, tag) in enumerate(zip(row["tokens"], row["pos_tags"]), 1)]
        lines.append("")
    return _write_lines(path, lines)


def panx(dataset, path: Path, lang: str) -> list[Path]:
    """tokens + ner_tags (ClassLabel) -> the Rahimi et al. `lang:token<TAB>TAG` files."""
    names = _names(dataset, "ner_tags")
    lines = []
    for row in dataset:
        lines += [f"{lang}:{token}\t{names[tag]}" for token, tag in zip(row["tokens"], row["ner_tags"])] + [""]
    return _write_lines(path, lines)


def tatoeba(dataset, path: Path, lang: str) -> list[Path]:
    """source_sentence/target_sentence pairs -> the line-aligned `.{iso3}` and `.eng` files."""
    return (_write_lines(path, (r["source_sentence"].strip() for r in dataset))
            + _write_lines(path.with_suffix(".eng"), (r["target_sentence"].strip() for r in dataset)))


def hellaswag_jsonl(dataset, path: Path, lang: str) -> list[Path]:
    return _jsonl(path, ({k: r[k] for k in ("ind", "activity_label", "ctx_a", "ctx_b", "endings", "label")} for r in dataset))


def cosmosqa_csv(dataset, path: Path, lang: str) -> list[Path]:
    import csv

    path.parent.mkdir(parents=True, exist_ok=True)
    columns = ("id", "context", "question", "answer0", "answer1", "answer2", "answer3", "label")
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        writer.writerows([r[c] for c in columns] for r in dataset)
    return [path]


def commonsenseqa_jsonl(dataset, path: Path, lang: str) -> list[Path]:
    """The HuggingFace schema, which read_commonsenseqa reads as it is."""
    return _jsonl(path, ({k: r[k] for k in ("id", "question", "question_concept", "choices", "answerKey")} for r in dataset))
