"""Low-level helpers shared by the readers: line/JSON/TSV access that fails with DataFormatError.

Every helper reports the file and a 1-based line number (or a JSON field path) so that a
malformed file never surfaces as a bare KeyError/IndexError traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from ..errors import DataFormatError

_BOM = b"\xef\xbb\xbf"
_TYPE_NAMES = {str: "a string", int: "an integer", list: "a list", dict: "an object", bool: "a boolean"}

# Said wherever a file lacks gold labels: the usual cause is XTREME's download script.
LABELS_MISSING = "test labels missing: XTREME's download strips them; use `xstilts data fetch`"

NLI_LABELS = ("entailment", "neutral", "contradiction")
# XNLI's official files and XTREME's processing spell one label "contradictory".
_NLI_ALIASES = {"contradictory": "contradiction"}


def check_file(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, None, "file not found" if not path.exists() else "not a regular file")
    return path


def lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, line without its newline).

    Read as bytes and split on b"\\n" only: text mode would also split on a stray "\\r"
    inside a sentence and shift every later line (fatal for line-aligned bitexts).
    """
    path = check_file(path)
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            if number == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM):]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DataFormatError(path, number, f"not valid UTF-8 ({e.reason} at byte {e.start})") from None
            yield number, text.rstrip("\r\n")


def read_text(path: str | Path) -> str:
    path = check_file(path)
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise DataFormatError(path, line, f"not valid UTF-8 ({e.reason})") from None


def load_json(path: str | Path) -> Any:
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise DataFormatError(path, e.lineno, f"invalid JSON: {e.msg} (column {e.colno})") from None


def jsonl(path: str | Path) -> Iterator[tuple[int, dict]]:
    """Yield (line number, object) for each non-blank line of a JSON-lines file."""
    for number, line in lines(path):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataFormatError(path, number, f"invalid JSON: {e.msg} (column {e.colno})") from None
        if not isinstance(obj, dict):
            raise DataFormatError(path, number, f"expected a JSON object per line, got {type(obj).__name__}")
        yield number, obj


def field(obj: Any, key: str, typ: type | tuple, path, line: int | None, where: str = "",
          optional: bool = False) -> Any:
    """obj[key] checked against typ; `where` is the JSON path of obj (for whole-file JSON)."""
    name = f"{where}.{key}" if where else key
    if not isinstance(obj, dict):
        raise DataFormatError(path, line, f"{where or 'record'}: expected an object, got {type(obj).__name__}")
    if key not in obj or (optional and obj[key] is None):
        if optional:
            return None
        raise DataFormatError(path, line, f"missing field {name!r} (expected {_describe(typ)})")
    value = obj[key]
    # bool is a subclass of int: an answer_start of `true` is still wrong.
    if not isinstance(value, typ) or (isinstance(value, bool) and typ is not bool):
        raise DataFormatError(path, line, f"field {name!r}: expected {_describe(typ)}, got {type(value).__name__}")
    return value


def _describe(typ) -> str:
    types = typ if isinstance(typ, tuple) else (typ,)
    return " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in types)


def tsv_rows(path: str | Path) -> Iterator[tuple[int, list[str]]]:
    """Yield (line number, fields) of non-blank lines; fields split on tabs with no quoting.

    The official files are written without CSV quoting (a premise may contain a lone `"`),
    so csv.reader would merge lines; every XTREME/GLUE loader reads them QUOTE_NONE.
    """
    for number, line in lines(path):
        if line.strip():
            yield number, line.split("\t")


def tsv_with_header(path: str | Path, required: tuple[str, ...], optional: tuple[str, ...] = ()
                    ) -> Iterator[tuple[int, dict[str, str | None]]]:
    """Rows of a headed TSV as {column: value} for the required (+ optional, None if absent) columns."""
    rows = tsv_rows(path)
    first = next(rows, None)
    if first is None:
        raise DataFormatError(path, 1, f"empty file; expected a header with columns {', '.join(required)}")
    number, header = first
    missing = [c for c in required if c not in header]
    if missing:
        raise DataFormatError(path, number, f"header lacks column(s) {', '.join(missing)}; "
                                            f"expected {', '.join(required)}; got {', '.join(header)}")
    index = {c: header.index(c) for c in (*required, *optional) if c in header}
    for number, fields in rows:
        if len(fields) != len(header):
            raise DataFormatError(path, number, f"expected {len(header)} tab-separated fields as in the header, "
                                                f"got {len(fields)}")
        yield number, {c: (fields[index[c]] if c in index else None) for c in (*required, *optional)}


def nli_label(label: str | None, path, line: int | None, where: str = "label") -> str:
    label = _NLI_ALIASES.get(label, label)
    if label not in NLI_LABELS:
        raise DataFormatError(path, line, f"{where}: expected one of {', '.join(NLI_LABELS)}, got {label!r}")
    return label


def binary_label(label: str, path, line: int, where: str = "label") -> str:
    if label not in ("0", "1"):
        raise DataFormatError(path, line, f"{where}: expected 0 or 1, got {label!r}")
    return label
