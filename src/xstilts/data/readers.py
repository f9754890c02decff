"""Readers for every dataset format X-STILTs uses; each returns the records of `examples.py`.

The readers live in a few modules by task family; import them from here. Every malformed input
raises DataFormatError naming the file and the 1-based line (or JSON field path).
"""

from __future__ import annotations

from .classification_readers import (read_anli_jsonl, read_glue_mnli, read_glue_qqp, read_nli_tsv,
                                     read_pawsx_tsv, read_snli_jsonl, read_xnli_official)
from .mc_readers import read_commonsenseqa, read_cosmosqa, read_hellaswag
from .qa_readers import answer_mismatches, read_hf_qa, read_squad_json
from .retrieval_readers import TATOEBA_ISO3, read_bucc, read_tatoeba
from .tagging_readers import read_ccg, read_conllu, read_panx, read_tag_vocab, read_udpos_tsv

__all__ = [
    "TATOEBA_ISO3", "answer_mismatches",
    "read_anli_jsonl", "read_bucc", "read_ccg", "read_commonsenseqa", "read_conllu", "read_cosmosqa",
    "read_glue_mnli", "read_glue_qqp", "read_hellaswag", "read_hf_qa", "read_nli_tsv", "read_panx",
    "read_pawsx_tsv", "read_snli_jsonl", "read_squad_json", "read_tag_vocab", "read_tatoeba",
    "read_udpos_tsv", "read_xnli_official",
]
