"""Sentence-pair classification readers: XNLI (XTREME-processed and official), GLUE MNLI/QQP,
ANLI, SNLI/MNLI jsonl and PAWS-X. Labels are strings (NLI names, or "0"/"1")."""

from __future__ import annotations

from pathlib import Path

from ..errors import DataFormatError
from ._io import LABELS_MISSING, binary_label, field, jsonl, nli_label, tsv_rows, tsv_with_header
from .examples import ClassificationExample

_ANLI_LABELS = {"e": "entailment", "n": "neutral", "c": "contradiction"}
_PAWSX_HEADER = ["id", "sentence1", "sentence2", "label"]


def _three_columns(path: Path, rows, label_fn) -> list[ClassificationExample]:
    """Headerless `text_a<TAB>text_b<TAB>label` rows; guid = file:line."""
    out = []
    for number, fields in rows:
        if len(fields) != 3:
            # two fields: XTREME's processed test files, whose label column was removed
            cause = f" ({LABELS_MISSING})" if len(fields) == 2 else ""
            raise DataFormatError(path, number, f"expected 3 tab-separated fields (text_a, text_b, label), "
                                                f"got {len(fields)}{cause}")
        out.append(ClassificationExample(f"{path.name}:{number}", fields[0], fields[1],
                                         label_fn(fields[2], path, number)))
    return out


def read_nli_tsv(path: str | Path) -> list[ClassificationExample]:
    """`premise<TAB>hypothesis<TAB>label`, no header: XTREME's processed XNLI `{split}-{lg}.tsv` and
    the staged SuperGLEBer/XGLUE German XNLI files. "contradictory" is read as "contradiction"."""
    path = Path(path)
    return _three_columns(path, tsv_rows(path), nli_label)


def read_xnli_official(path: str | Path, lang: str | None = None) -> list[ClassificationExample]:
    """Official XNLI-1.0 `xnli.{dev,test}.tsv` (headed) or `.jsonl`, keeping rows of `lang` (all if None).

    guid = "{language}-{pairID}": pairIDs repeat across the 15 languages (the rows are translations).
    """
    path = Path(path)
    if path.suffix == ".jsonl":
        rows = ((n, {k: field(r, k, str, path, n) for k in ("language", "gold_label", "sentence1", "sentence2")}
                 | {"pairID": str(field(r, "pairID", (str, int), path, n, optional=True) or n)})
                for n, r in jsonl(path))
    else:
        rows = tsv_with_header(path, ("language", "gold_label", "sentence1", "sentence2"), ("pairID",))
    out, seen = [], set()
    for number, row in rows:
        seen.add(row["language"])
        if lang is None or row["language"] == lang:
            guid = f"{row['language']}-{row['pairID'] or number}"
            out.append(ClassificationExample(guid, row["sentence1"], row["sentence2"],
                                             nli_label(row["gold_label"], path, number, "gold_label")))
    if lang is not None and not out:
        raise DataFormatError(path, None, f"no rows with language {lang!r}; present: {', '.join(sorted(seen))}")
    return out


def read_glue_mnli(path: str | Path) -> list[ClassificationExample]:
    """GLUE MNLI tsv (train, dev_(mis)matched, test_(mis)matched); columns found by header name.
    Test files have no gold_label column -> label None. guid = pairID (else the index column)."""
    path = Path(path)
    out = []
    for number, row in tsv_with_header(path, ("sentence1", "sentence2"), ("gold_label", "pairID", "index")):
        label = None if row["gold_label"] is None else nli_label(row["gold_label"], path, number, "gold_label")
        guid = row["pairID"] or row["index"] or f"{path.name}:{number}"
        out.append(ClassificationExample(guid, row["sentence1"], row["sentence2"], label))
    return out


def read_glue_qqp(path: str | Path) -> list[ClassificationExample]:
    """GLUE QQP tsv: `id qid1 qid2 question1 question2 is_duplicate` (test: `id question1 question2`)."""
    path = Path(path)
    out = []
    for number, row in tsv_with_header(path, ("id", "question1", "question2"), ("is_duplicate",)):
        label = None if row["is_duplicate"] is None else binary_label(row["is_duplicate"], path, number, "is_duplicate")
        out.append(ClassificationExample(row["id"], row["question1"], row["question2"], label))
    return out


def read_anli_jsonl(path: str | Path) -> list[ClassificationExample]:
    """ANLI `{uid, context, hypothesis, label: e|n|c}` per line (a missing label -> None)."""
    path = Path(path)
    out = []
    for number, rec in jsonl(path):
        label = field(rec, "label", str, path, number, optional=True)
        if label is not None:
            if label not in _ANLI_LABELS:
                raise DataFormatError(path, number, f"label: expected one of e, n, c, got {label!r}")
            label = _ANLI_LABELS[label]
        out.append(ClassificationExample(field(rec, "uid", str, path, number), field(rec, "context", str, path, number),
                                         field(rec, "hypothesis", str, path, number), label))
    return out


def read_snli_jsonl(path: str | Path) -> list[ClassificationExample]:
    """SNLI / MultiNLI official jsonl (sentence1, sentence2, gold_label, pairID).

    gold_label "-" (no annotator majority) is skipped, as in the official training recipes.
    """
    path = Path(path)
    out = []
    for number, rec in jsonl(path):
        gold = field(rec, "gold_label", str, path, number)
        if gold == "-":
            continue
        guid = str(field(rec, "pairID", (str, int), path, number, optional=True) or f"{path.name}:{number}")
        out.append(ClassificationExample(guid, field(rec, "sentence1", str, path, number),
                                         field(rec, "sentence2", str, path, number),
                                         nli_label(gold, path, number, "gold_label")))
    return out


def read_pawsx_tsv(path: str | Path) -> list[ClassificationExample]:
    """PAWS-X `id<TAB>sentence1<TAB>sentence2<TAB>label` with header (train, dev_2k, test_2k,
    translated_train), or XTREME's processed headerless `sentence1<TAB>sentence2<TAB>label`."""
    path = Path(path)
    rows = tsv_rows(path)
    first = next(rows, None)
    if first is None:
        return []
    if first[1] != _PAWSX_HEADER:
        if len(first[1]) == 4:
            raise DataFormatError(path, first[0], f"expected the header {' '.join(_PAWSX_HEADER)}, "
                                                  f"got {' '.join(first[1])!r}")
        return _three_columns(path, [first, *rows], binary_label)  # XTREME's processed file: no header
    out = []
    for number, fields in rows:
        if len(fields) != 4:
            raise DataFormatError(path, number, f"expected 4 tab-separated fields ({', '.join(_PAWSX_HEADER)}), "
                                                f"got {len(fields)}")
        out.append(ClassificationExample(fields[0], fields[1], fields[2], binary_label(fields[3], path, number)))
    return out
