"""Extractive QA readers: SQuAD-format JSON (SQuAD v1.1/v2.0, XQuAD, MLQA, TyDiQA-GoldP) and
HuggingFace `datasets` QA data (save_to_disk directories, JSON/JSON-lines exports)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from ..errors import DataFormatError
from ._io import field, jsonl, load_json, read_text
from .examples import SpanQAExample

logger = logging.getLogger(__name__)


def answer_mismatches(examples: list[SpanQAExample]) -> int:
    """Number of answers whose text differs from context[answer_start:answer_start+len(text)].

    Official data has a few (e.g. offsets counted differently after translation); the readers
    keep them as they are, like the official evaluation scripts, and only report the count.
    """
    return sum(ex.context[a["answer_start"]:a["answer_start"] + len(a["text"])] != a["text"]
               for ex in examples for a in ex.answers)


def _finish(path, examples: list[SpanQAExample]) -> list[SpanQAExample]:
    seen: set[str] = set()
    for ex in examples:
        if ex.guid in seen:
            raise DataFormatError(path, None, f"question id {ex.guid!r} occurs more than once")
        seen.add(ex.guid)
    bad, total = answer_mismatches(examples), sum(len(ex.answers) for ex in examples)
    if bad * 2 > total:  # a few are translation noise; most means the offsets are wrong, not the answers
        first = next(ex for ex in examples for a in ex.answers
                     if ex.context[a["answer_start"]:a["answer_start"] + len(a["text"])] != a["text"])
        raise DataFormatError(path, None, f"{bad} of {total} answers do not match context[answer_start:...] "
                                          f"(first: question {first.guid!r}); are the offsets in characters?")
    if bad:
        logger.warning("%s: %d of %d answer(s) do not match context[answer_start:...]; kept as is", path, bad, total)
    return examples


def _answer(ans, context: str, path, line, where) -> dict:
    text = field(ans, "text", str, path, line, where)
    start = field(ans, "answer_start", int, path, line, where)
    if not 0 <= start <= len(context):
        raise DataFormatError(path, line, f"{where}.answer_start = {start} lies outside the context "
                                          f"(length {len(context)})")
    return {"text": text, "answer_start": start}


def read_squad_json(path: str | Path) -> list[SpanQAExample]:
    """SQuAD v1.1/v2.0-format JSON: data[].paragraphs[].{context, qas[].{id, question, answers}}.

    v2.0 `is_impossible` questions get no answers (their `plausible_answers` are dropped).
    Errors name the JSON field path, e.g. data[3].paragraphs[0].qas[2].answers[0].answer_start.
    """
    path = Path(path)
    doc = load_json(path)
    examples = []
    for a, article in enumerate(field(doc, "data", list, path, None)):
        where = f"data[{a}]"
        title = field(article, "title", str, path, None, where, optional=True) or ""
        for p, para in enumerate(field(article, "paragraphs", list, path, None, where)):
            wp = f"{where}.paragraphs[{p}]"
            context = field(para, "context", str, path, None, wp)
            for q, qa in enumerate(field(para, "qas", list, path, None, wp)):
                wq = f"{wp}.qas[{q}]"
                impossible = bool(field(qa, "is_impossible", bool, path, None, wq, optional=True))
                # XTREME's label-stripped test files set answers to {}: read as none, which data check reports
                answers = field(qa, "answers", (list, dict), path, None, wq) or []
                if isinstance(answers, dict):
                    raise DataFormatError(path, None, f"field '{wq}.answers': expected a list, got dict")
                answers = [] if impossible else [
                    _answer(ans, context, path, None, f"{wq}.answers[{k}]") for k, ans in enumerate(answers)]
                examples.append(SpanQAExample(
                    guid=field(qa, "id", str, path, None, wq), question=field(qa, "question", str, path, None, wq),
                    context=context, answers=answers, is_impossible=impossible, title=title))
    return _finish(path, examples)


def _hf_record(rec: dict, path, line: int | None, where: str) -> SpanQAExample:
    context = field(rec, "context", str, path, line, where)
    answers = field(rec, "answers", (dict, list), path, line, where)
    wa = f"{where}.answers" if where else "answers"
    if isinstance(answers, dict):  # HF columnar form: {"text": [...], "answer_start": [...]}
        texts = field(answers, "text", list, path, line, wa)
        starts = field(answers, "answer_start", list, path, line, wa)
        if len(texts) != len(starts):
            raise DataFormatError(path, line, f"{wa}: {len(texts)} texts but {len(starts)} answer_start values")
        answers = [{"text": t, "answer_start": s} for t, s in zip(texts, starts)]
    answers = [_answer(ans, context, path, line, f"{wa}[{k}]") for k, ans in enumerate(answers)]
    return SpanQAExample(guid=str(field(rec, "id", (str, int), path, line, where)),
                         question=field(rec, "question", str, path, line, where), context=context,
                         answers=answers, is_impossible=not answers,
                         title=field(rec, "title", str, path, line, where, optional=True) or "")


def _arrow_rows(split_dir: Path) -> list[dict]:
    """Rows of a save_to_disk split: datasets.load_from_disk, else the Arrow IPC files directly."""
    try:
        import datasets
        return datasets.load_from_disk(str(split_dir)).to_list()
    except Exception as e:  # noqa: BLE001 - any failure: fall back to plain pyarrow
        logger.info("%s: datasets.load_from_disk failed (%s); reading the Arrow files with pyarrow", split_dir, e)
    import pyarrow as pa
    files = sorted(split_dir.glob("*.arrow"))
    if not files:
        raise DataFormatError(split_dir, None, "no *.arrow data files (expected a datasets save_to_disk folder)")
    rows: list[dict] = []
    for file in files:
        with open(file, "rb") as f:
            try:  # datasets writes the IPC *stream* format; accept the file format too
                table = pa.ipc.open_stream(f).read_all()
            except pa.ArrowInvalid:
                f.seek(0)
                try:
                    table = pa.ipc.open_file(f).read_all()
                except pa.ArrowInvalid as e:
                    raise DataFormatError(file, None, f"not an Arrow IPC stream or file: {e}") from None
        rows.extend(table.to_pylist())
    return rows


def _split_dir(path: Path, split: str | None) -> Path:
    """A save_to_disk DatasetDict folder -> the folder of one split (the only one present if split=None)."""
    listing = path / "dataset_dict.json"
    if not listing.exists():
        return path
    splits = field(load_json(listing), "splits", list, listing, None)
    present = [s for s in splits if (path / s).is_dir()]  # staged copies may lack a listed split
    if split is not None:
        if split not in present:
            raise DataFormatError(path, None, f"split {split!r} is not on disk; "
                                              f"present: {', '.join(present) or 'none'}")
        return path / split
    if len(present) != 1:
        raise DataFormatError(path, None, f"pass split=...: this DatasetDict holds {', '.join(present) or 'no split'}")
    return path / present[0]


def read_hf_qa(path: str | Path, split: str | None = None) -> list[SpanQAExample]:
    """HuggingFace-schema QA data: id, question, context, answers{text[], answer_start[]} (title optional).

    `path` is a save_to_disk folder (a Dataset, or a DatasetDict with `split` chosen; when only one
    split is on disk it is used), a .jsonl file, or a .json file holding a list of records,
    {"data": [records]}, JSON lines (what Dataset.to_json writes), or SQuAD-format JSON.
    """
    path = Path(path)
    if path.is_dir():
        split_dir = _split_dir(path, split)
        rows = _arrow_rows(split_dir)
        return _finish(path, [_hf_record(r, split_dir, None, f"row {i}") for i, r in enumerate(rows)])
    if path.suffix == ".jsonl":
        return _finish(path, [_hf_record(r, path, n, "") for n, r in jsonl(path)])
    try:
        doc = json.loads(read_text(path))
    except json.JSONDecodeError:  # several JSON documents: JSON lines with a .json name
        return _finish(path, [_hf_record(r, path, n, "") for n, r in jsonl(path)])
    if isinstance(doc, dict) and isinstance(doc.get("data"), list):
        if doc["data"] and isinstance(doc["data"][0], dict) and "paragraphs" in doc["data"][0]:
            return read_squad_json(path)
        doc = doc["data"]
    if isinstance(doc, dict):
        doc = [doc]
    if not isinstance(doc, list):
        raise DataFormatError(path, None, f"expected a list of QA records, got {type(doc).__name__}")
    return _finish(path, [_hf_record(r, path, None, f"[{i}]") for i, r in enumerate(doc)])
