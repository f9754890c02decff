"""Word-level tagging readers: CoNLL-U (UD POS), WikiANN/PAN-X NER and CCG supertags."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import DataFormatError
from ._io import lines
from .examples import TaggingExample

CONLLU_COLUMNS = ("id", "form", "lemma", "upos", "xpos", "feats", "head", "deprel", "deps", "misc")
_CONLLU_ID = re.compile(r"(\d+)|(\d+-\d+)|(\d+\.\d+)")        # word | multiword range | empty node
_NER_TAG = re.compile(r"O|[BIES]-\S+")
_UPOS_TAG = re.compile(r"[A-Z]+")
# WikiANN language prefixes: "en", "zh-yue", "be-x-old", "map-bms", ...
_PANX_PREFIX = re.compile(r"([a-z]{2,3}(?:-[a-z]+)*):")


def read_conllu(path: str | Path, tag_column: str | None = "upos") -> list[TaggingExample]:
    """CoNLL-U sentences as (FORM, tag_column) lists; tag_column=None gives tags None.

    Keeps only the syntactic words (integer IDs), like XTREME's UD-POS preprocessing: comment
    lines, multiword-token ranges (`1-2`) and empty nodes (`8.1`) are skipped.
    guid = the `# sent_id` value, else file:line of the sentence's first line.
    """
    path = Path(path)
    if tag_column is not None and tag_column not in CONLLU_COLUMNS:
        raise ValueError(f"tag_column must be one of {', '.join(CONLLU_COLUMNS)}, got {tag_column!r}")
    column = CONLLU_COLUMNS.index(tag_column) if tag_column else None
    out: list[TaggingExample] = []
    tokens: list[str] = []
    tags: list[str] = []
    sent_id, start = None, None

    def flush():
        if tokens:
            out.append(TaggingExample(sent_id or f"{path.name}:{start}", list(tokens),
                                      list(tags) if column is not None else None))
        elif start is not None:
            raise DataFormatError(path, start, "sentence without any word lines")
        tokens.clear()
        tags.clear()

    for number, line in lines(path):
        if not line.strip():
            flush()
            sent_id, start = None, None
            continue
        start = start or number
        if line.startswith("#"):
            key, _, value = line[1:].partition("=")
            if key.strip() == "sent_id":
                sent_id = value.strip()
            continue
        fields = line.split("\t")
        if len(fields) != 10:
            raise DataFormatError(path, number, f"expected 10 tab-separated CoNLL-U columns, got {len(fields)}")
        match = _CONLLU_ID.fullmatch(fields[0])
        if not match:
            raise DataFormatError(path, number, f"ID: expected an integer, a range like 1-2 or a decimal "
                                                f"like 8.1, got {fields[0]!r}")
        if match.group(1):  # a syntactic word
            tokens.append(fields[1])
            if column is not None:
                tags.append(fields[column])
    flush()
    return out


def read_panx(path: str | Path) -> list[TaggingExample]:
    """WikiANN / PAN-X NER: `lang:token<TAB>TAG` lines (Rahimi et al. split), blank-line separated.

    The `lang:` prefix (up to the first colon) is stripped when every token line of the file
    carries the same prefix; otherwise the file is XTREME's processed `token<TAB>TAG` form, whose
    tokens may contain colons themselves. A token line without a tag (XTREME's label-free test
    files) gives tags None for its sentence. guid = file:line of the sentence's first line.
    """
    return _token_tag_sentences(Path(path), _NER_TAG, "a BIO tag (O, B-X, I-X)")


def read_udpos_tsv(path: str | Path) -> list[TaggingExample]:
    """XTREME's processed UD POS `{split}-{lang}.tsv`: `token<TAB>UPOS` lines, blank-line separated
    (test files without tags give tags None)."""
    return _token_tag_sentences(Path(path), _UPOS_TAG, "a UPOS tag")


def _token_tag_sentences(path: Path, tag_pattern: re.Pattern, tag_name: str) -> list[TaggingExample]:
    rows = list(lines(path))
    prefixes = {m.group(1) if (m := _PANX_PREFIX.match(text)) else None for _, text in rows if text.strip()}
    strip = len(prefixes) == 1 and None not in prefixes
    out: list[TaggingExample] = []
    sentence: list[tuple[int, list[str]]] = []
    for number, text in [*rows, (len(rows) + 1, "")]:
        if text.strip():
            fields = [f.strip() for f in text.split("\t")]  # XTREME strips stray spaces too
            if strip:
                fields[0] = fields[0].split(":", 1)[1].strip()
            if len(fields) > 2 or not fields[0]:
                raise DataFormatError(path, number, f"expected `token<TAB>TAG` with a non-empty token, got {text!r}")
            sentence.append((number, fields))
            continue
        if not sentence:
            continue
        labelled = {len(f) == 2 for _, f in sentence}
        if len(labelled) > 1:
            raise DataFormatError(path, sentence[0][0], "sentence mixes tagged and untagged token lines")
        tags = [f[1] for _, f in sentence] if labelled == {True} else None
        for (number_, _), tag in zip(sentence, tags or []):
            if not tag_pattern.fullmatch(tag):
                raise DataFormatError(path, number_, f"expected {tag_name}, got {tag!r}")
        out.append(TaggingExample(f"{path.name}:{sentence[0][0]}", [f[0] for _, f in sentence], tags))
        sentence = []
    return out


def read_ccg(path: str | Path) -> list[TaggingExample]:
    """CCG supertagging: one sentence per line, `tokens<TAB>tags`, both space-separated, equal length.
    Blank lines are skipped; guid = file:line."""
    path = Path(path)
    out = []
    for number, text in lines(path):
        if not text.strip():
            continue
        parts = text.split("\t")
        if len(parts) != 2:
            raise DataFormatError(path, number, f"expected `tokens<TAB>tags`, got {len(parts)} tab-separated fields")
        tokens, tags = parts[0].split(), parts[1].split()
        if not tokens or len(tokens) != len(tags):
            raise DataFormatError(path, number, f"expected as many tags as tokens, got {len(tokens)} tokens "
                                                f"and {len(tags)} tags")
        out.append(TaggingExample(f"{path.name}:{number}", tokens, tags))
    return out


def read_tag_vocab(path: str | Path) -> list[str]:
    """A tag inventory, one tag per line (blank lines ignored); duplicates and inner spaces are errors."""
    path = Path(path)
    tags: dict[str, int] = {}
    for number, text in lines(path):
        tag = text.strip()
        if not tag:
            continue
        if len(tag.split()) != 1:
            raise DataFormatError(path, number, f"expected one tag per line, got {tag!r}")
        if tag in tags:
            raise DataFormatError(path, number, f"tag {tag!r} repeats line {tags[tag]}")
        tags[tag] = number
    return list(tags)
