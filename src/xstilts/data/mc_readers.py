"""Multiple-choice readers: HellaSwag (original jsonl and the staged 6-line txt), CosmosQA (csv and
test jsonl) and CommonsenseQA (official nested jsonl and the HuggingFace schema)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..errors import DataFormatError
from ._io import field, jsonl, lines, read_text
from .examples import MultipleChoiceExample

_HELLASWAG_ENDINGS = 4
_COSMOS_ANSWERS = tuple(f"answer{i}" for i in range(4))


def _index_label(value, n: int, path, line, where: str = "label") -> int | None:
    """A gold index given as int or digit string; None/"" (unlabelled test data) -> None."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < n:
        raise DataFormatError(path, line, f"{where}: expected an index 0..{n - 1}, got {value!r}")
    return value


def _labels_all_or_none(path: Path, examples: list[MultipleChoiceExample], numbers: list[int]):
    """A test file has no labels at all; a row without one among labelled rows is a broken row."""
    if any(ex.label is not None for ex in examples):
        for ex, number in zip(examples, numbers):
            if ex.label is None:
                raise DataFormatError(path, number, "no gold label, while other rows of this file have one")
    return examples


def read_hellaswag(path: str | Path) -> list[MultipleChoiceExample]:
    """HellaSwag: the original `.jsonl` or the staged derived `.txt` (dispatch on suffix).

    jsonl (the jiant convention): context = ctx_a, choices = [ctx_b + " " + ending] (stripped),
    guid = ind; test rows have no label -> None.
    txt (6 lines per example): context = line 1 ("activity_label: ctx", i.e. ctx_a and ctx_b
    joined and prefixed; the split is not recoverable), label = line 2, choices = lines 3-6;
    guid = file:line of the record's first line. `question` is "" in both.
    """
    path = Path(path)
    if path.suffix == ".jsonl":
        out, numbers = [], []
        for number, rec in jsonl(path):
            numbers.append(number)
            endings = field(rec, "endings", list, path, number)
            if len(endings) != _HELLASWAG_ENDINGS or not all(isinstance(e, str) for e in endings):
                raise DataFormatError(path, number, f"endings: expected {_HELLASWAG_ENDINGS} strings")
            ctx_b = field(rec, "ctx_b", str, path, number)
            ind = field(rec, "ind", (int, str), path, number, optional=True)
            out.append(MultipleChoiceExample(
                guid=str(ind) if ind is not None else f"{path.name}:{number}",
                context=field(rec, "ctx_a", str, path, number), question="",
                choices=[f"{ctx_b} {e}".strip() for e in endings],
                label=_index_label(rec.get("label"), _HELLASWAG_ENDINGS, path, number)))
        return _labels_all_or_none(path, out, numbers)
    block: list[tuple[int, str]] = []
    out = []
    for number, line in lines(path):
        block.append((number, line))
        if len(block) < 2 + _HELLASWAG_ENDINGS:
            continue
        (start, context), (label_line, label) = block[0], block[1]
        if not context.strip():
            raise DataFormatError(path, start, "expected a context line (\"activity_label: ctx\"), got a blank line")
        out.append(MultipleChoiceExample(f"{path.name}:{start}", context, "", [e for _, e in block[2:]],
                                         _index_label(label, _HELLASWAG_ENDINGS, path, label_line)))
        if out[-1].label is None:
            raise DataFormatError(path, label_line, "expected the gold label 0-3, got a blank line")
        block = []
    if block and any(text.strip() for _, text in block):
        raise DataFormatError(path, block[0][0], f"incomplete example: {len(block)} of 6 lines "
                                                 "(context, label, 4 endings) before the end of the file")
    return out


def read_cosmosqa(path: str | Path) -> list[MultipleChoiceExample]:
    """CosmosQA official `.csv` (id,context,question,answer0..answer3,label) or test `.jsonl` (no label)."""
    path = Path(path)
    required = ("id", "context", "question", *_COSMOS_ANSWERS)
    if path.suffix == ".jsonl":
        rows = ((n, {k: field(r, k, str, path, n) for k in required} | {"label": r.get("label")})
                for n, r in jsonl(path))
    else:
        rows = _csv_rows(path, required)
    rows = list(rows)
    return _labels_all_or_none(path, [
        MultipleChoiceExample(row["id"], row["context"], row["question"], [row[k] for k in _COSMOS_ANSWERS],
                              _index_label(row.get("label"), len(_COSMOS_ANSWERS), path, number))
        for number, row in rows], [number for number, _ in rows])


def _csv_rows(path: Path, required: tuple[str, ...]):
    """(first line of the record, {column: value}) of a standard-quoted CSV (fields may span lines)."""
    reader = csv.reader(io.StringIO(read_text(path), newline=""))
    try:
        header = next(reader, None)
        if header is None or any(c not in header for c in required):
            raise DataFormatError(path, 1, f"expected a header with columns {','.join(required)}[,label]; "
                                           f"got {','.join(header or [])!r}")
        start = reader.line_num + 1
        for fields in reader:
            if fields:
                if len(fields) != len(header):
                    raise DataFormatError(path, start, f"expected {len(header)} comma-separated fields as in "
                                                       f"the header, got {len(fields)}")
                yield start, dict(zip(header, fields))
            start = reader.line_num + 1
    except csv.Error as e:
        raise DataFormatError(path, reader.line_num, f"malformed CSV: {e}") from None


def read_commonsenseqa(path: str | Path) -> list[MultipleChoiceExample]:
    """CommonsenseQA jsonl, official nested form (question.stem, question.choices[{label, text}])
    or the HuggingFace schema (question, choices{label[], text[]}). label = index of answerKey
    among the choice labels; a missing/empty answerKey (test) -> None. context is ""."""
    path = Path(path)
    out, numbers = [], []
    for number, rec in jsonl(path):
        numbers.append(number)
        question = field(rec, "question", (dict, str), path, number)
        if isinstance(question, dict):  # official
            stem = field(question, "stem", str, path, number, "question")
            choices = field(question, "choices", list, path, number, "question")
            labels = [field(c, "label", str, path, number, f"question.choices[{i}]") for i, c in enumerate(choices)]
            texts = [field(c, "text", str, path, number, f"question.choices[{i}]") for i, c in enumerate(choices)]
        else:  # HuggingFace
            stem = question
            choices = field(rec, "choices", dict, path, number)
            labels = field(choices, "label", list, path, number, "choices")
            texts = field(choices, "text", list, path, number, "choices")
            if len(labels) != len(texts):
                raise DataFormatError(path, number, f"choices: {len(labels)} labels but {len(texts)} texts")
        key = field(rec, "answerKey", str, path, number, optional=True) or None
        if key is not None and key not in labels:
            raise DataFormatError(path, number, f"answerKey {key!r} is not one of the choice labels {labels}")
        out.append(MultipleChoiceExample(field(rec, "id", str, path, number), "", stem, list(texts),
                                         None if key is None else labels.index(key)))
    return _labels_all_or_none(path, out, numbers)
