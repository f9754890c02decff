"""Plain records that every reader returns, one type per task family."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ClassificationExample:
    """A sentence (pair) with a string label (None for unlabeled test data)."""

    guid: str
    text_a: str
    text_b: str | None
    label: str | None


@dataclass
class MultipleChoiceExample:
    """A context/question with N candidate endings; label is the gold index."""

    guid: str
    context: str
    question: str
    choices: list[str]
    label: int | None


@dataclass
class SpanQAExample:
    """Extractive QA; answer_start is a character offset into context."""

    guid: str
    question: str
    context: str
    answers: list[dict] = field(default_factory=list)  # [{"text": str, "answer_start": int}]
    is_impossible: bool = False
    title: str = ""


@dataclass
class TaggingExample:
    """Word-level sequence labelling (POS, NER, CCG supertags)."""

    guid: str
    tokens: list[str]
    tags: list[str] | None


@dataclass
class RetrievalCorpus:
    """Two sides of a bitext-retrieval set; gold pairs (src_id, trg_id).

    Tatoeba: sides are line-aligned, ids are line numbers and gold is the diagonal.
    BUCC: sides are the raw monolingual corpora, gold lists the true translation pairs.
    """

    src_ids: list[str]
    src_texts: list[str]
    trg_ids: list[str]
    trg_texts: list[str]
    gold: list[tuple[str, str]]
