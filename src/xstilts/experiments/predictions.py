"""Files users share: a cell's per-example predictions in XTREME's submission layout, and a results
JSON with config, versions and scores (in the spirit of lm-evaluation-harness' results file).

XTREME's leaderboard took one folder per task holding `test-{language}.json` for QA (question id ->
answer text) and `test-{language}.tsv` for the others (one prediction per line; tagging: one tag
per line and a blank line after each sentence).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from ..errors import XstiltsError
from ..tasks.registry import get_task
from .store import ResultsStore


def _qa(kept) -> str:
    return json.dumps(dict(zip(kept.ids, kept.predictions)), ensure_ascii=False, indent=1)


def _lines(kept) -> str:
    return "".join(f"{p}\n" for p in kept.predictions)


def _tags(kept) -> str:
    return "".join("".join(f"{tag}\n" for tag in sentence) + "\n" for sentence in kept.predictions)


FORMATS = {"span_qa": ("json", _qa), "classification": ("tsv", _lines), "tagging": ("tsv", _tags),
           "similarity_search": ("tsv", _lines)}  # Tatoeba: the retrieved line of each English query


def find_cell(store: ResultsStore, cell: str) -> tuple[str, str]:
    """(cell_key, target) of the one stored cell whose key starts with `cell`."""
    found = store.find_cells(cell)
    if len(found) != 1:
        raise XstiltsError(f"{store.path}: {len(found) or 'no'} cells with a key starting {cell!r}"
                           + ("; give more of the key" if found else "; `xstilts results` lists the cell keys"))
    return found[0]


def write_predictions(store: ResultsStore, cell: str, out_dir: str | Path) -> list[Path]:
    """Write `{out_dir}/{target}/test-{lang}.{json|tsv}` for every language of one cell."""
    key, target = find_cell(store, cell)
    family = get_task(target).family
    if family not in FORMATS:
        raise XstiltsError(f"{target}: no per-example predictions are kept for the {family} family")
    kept = store.examples(key)
    if not kept:
        raise XstiltsError(f"{store.path}: cell {key} has no stored predictions (written before they were kept)")
    extension, render = FORMATS[family]
    folder = Path(out_dir) / target
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for lang, predictions in sorted(kept.items()):
        path = folder / f"test-{lang}.{extension}"
        path.write_text(render(predictions), encoding="utf-8")
        written.append(path)
    return written


def results_json(store: ResultsStore, latest: bool = True, **filters) -> dict:
    """{"results": model -> setting -> target -> seed -> language -> metric -> value,
    "cells": [{cell_key, model, intermediate, target, seed, config, versions}]} of the stored cells."""
    results = defaultdict(lambda: defaultdict(lambda: defaultdict(dict)))
    cells = {}
    for row in store.rows(latest=latest, **filters):
        by_lang = results[row["model"]][row["intermediate"]][row["target"]].setdefault(str(row["seed"]), {})
        by_lang.setdefault(row["language"], {})[row["metric"]] = row["value"]
        cells[row["cell_key"]] = {c: row[c] for c in ("model", "intermediate", "target", "seed")}
    return {"results": json.loads(json.dumps(results)),  # plain dicts
            "cells": [{"cell_key": key, **identity, **store.cell_config(key)} for key, identity in cells.items()]}
