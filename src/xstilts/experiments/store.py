"""Results store: one SQLite file, one row per cell x language x metric, written transactionally."""

from __future__ import annotations

import csv
import json
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from ..errors import XstiltsError
from ..evaluation.units import PerExample

SCHEMA = """
CREATE TABLE IF NOT EXISTS cells (
    cell_key TEXT PRIMARY KEY, model TEXT, intermediate TEXT, target TEXT, seed INTEGER,
    config TEXT, versions TEXT, wall_seconds REAL, finished_at TEXT);
CREATE TABLE IF NOT EXISTS results (
    cell_key TEXT REFERENCES cells(cell_key), language TEXT, metric TEXT, value REAL,
    PRIMARY KEY (cell_key, language, metric));
CREATE TABLE IF NOT EXISTS dev_results (
    cell_key TEXT REFERENCES cells(cell_key), phase TEXT, task TEXT, metric TEXT, value REAL,
    PRIMARY KEY (cell_key, phase, task, metric));
CREATE TABLE IF NOT EXISTS examples (
    cell_key TEXT REFERENCES cells(cell_key), language TEXT, data BLOB,
    PRIMARY KEY (cell_key, language));
"""
# The most recently finished cell of each (model, intermediate, target, seed).
LATEST_CELLS = ("SELECT cell_key FROM (SELECT cell_key, ROW_NUMBER() OVER (PARTITION BY model, intermediate, target, seed "
                "ORDER BY finished_at DESC, rowid DESC) AS rank FROM cells) WHERE rank = 1")
COLUMNS = ("model", "intermediate", "target", "seed", "language", "metric", "value", "cell_key")


class ResultsStore:
    """create=False opens an existing store read-only: `results`/`report` never write into a file they are given."""

    def __init__(self, path: str | Path, create: bool = True):
        self.path = Path(path)
        self.mode = "rwc" if create else "ro"
        if self.path.is_dir():
            raise XstiltsError(f"{self.path}: is a directory, not a results database")
        if not create and not self.path.is_file():
            raise XstiltsError(f"{self.path}: results file not found")
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            if create:
                db.executescript(SCHEMA)
            elif not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'cells'").fetchone():
                raise XstiltsError(f"{self.path}: not an xstilts results database (it has no cells table)")

    @contextmanager
    def _connect(self):
        """One transaction (committed, or rolled back on error); a bad file or disk ends in one line naming it."""
        try:
            db = sqlite3.connect(f"file:{quote(str(self.path.absolute()))}?mode={self.mode}", uri=True, timeout=60)
            try:
                with db:
                    yield db
            finally:
                db.close()
        except sqlite3.DatabaseError as err:
            if type(err) not in (sqlite3.DatabaseError, sqlite3.OperationalError):
                raise  # integrity/programming errors are ours: keep the traceback
            raise XstiltsError(f"{self.path}: {err} (not a readable, writable xstilts results database)") from None

    def has_cell(self, cell_key: str) -> bool:
        with self._connect() as db:
            return db.execute("SELECT 1 FROM cells WHERE cell_key = ?", (cell_key,)).fetchone() is not None

    def add_cell(self, cell_key: str, model: str, intermediate: str, target: str, seed: int,
                 metrics: dict[str, dict[str, float]], config: dict, versions: dict, wall_seconds: float,
                 dev: dict[str, dict[str, dict[str, float]]] | None = None, examples: dict | None = None) -> None:
        """All rows of a cell land together or not at all; re-adding a finished cell replaces it.
        dev: phase -> task -> metric -> value, the English dev scores of the selected models.
        examples: language -> evaluation.units.PerExample (ids, predictions, units), stored compressed."""
        with self._connect() as db:  # the context manager commits or rolls back as one transaction
            db.execute("DELETE FROM results WHERE cell_key = ?", (cell_key,))
            db.execute("DELETE FROM dev_results WHERE cell_key = ?", (cell_key,))
            db.execute("DELETE FROM examples WHERE cell_key = ?", (cell_key,))
            db.execute("INSERT OR REPLACE INTO cells VALUES (?,?,?,?,?,?,?,?,?)",
                       (cell_key, model, intermediate, target, seed, json.dumps(config, default=str),
                        json.dumps(versions), wall_seconds, datetime.now(timezone.utc).isoformat()))
            db.executemany("INSERT INTO results VALUES (?,?,?,?)",
                           [(cell_key, lang, metric, float(value))
                            for lang, by_metric in metrics.items() for metric, value in by_metric.items()])
            db.executemany("INSERT INTO dev_results VALUES (?,?,?,?,?)",
                           [(cell_key, phase, task, metric, float(value)) for phase, by_task in (dev or {}).items()
                            for task, by_metric in by_task.items() for metric, value in by_metric.items()])
            db.executemany("INSERT INTO examples VALUES (?,?,?)",
                           [(cell_key, lang, kept.to_blob()) for lang, kept in (examples or {}).items()])

    def rows(self, latest: bool = False, cell_keys=None, **filters) -> list[dict]:
        """Result rows joined with their cell, filtered by equality on any of COLUMNS.

        latest: of cells sharing (model, intermediate, target, seed) -- a re-run after a config or data
        change -- keep only the most recently finished one. cell_keys: keep only these cells.
        """
        where = [f"{k} = ?" for k in filters if k in COLUMNS]
        if latest:
            where.append(f"c.cell_key IN ({LATEST_CELLS})")
        query = ("SELECT c.model, c.intermediate, c.target, c.seed, r.language, r.metric, r.value, c.cell_key "
                 "FROM results r JOIN cells c USING (cell_key)" + (f" WHERE {' AND '.join(where)}" if where else "")
                 + " ORDER BY c.model, c.intermediate, c.target, c.seed, r.language, r.metric")
        with self._connect() as db:
            rows = [dict(zip(COLUMNS, row)) for row in db.execute(query, [filters[k] for k in filters if k in COLUMNS])]
        if cell_keys is not None:
            keep = set(cell_keys)
            rows = [row for row in rows if row["cell_key"] in keep]
        return rows

    def dev_rows(self, cell_keys=None) -> list[dict]:
        """English dev scores of the models each cell selected, per phase ("intermediate", "target") and task."""
        columns = ("model", "intermediate", "target", "seed", "phase", "task", "metric", "value", "cell_key")
        with self._connect() as db:
            rows = [dict(zip(columns, row)) for row in db.execute(
                "SELECT c.model, c.intermediate, c.target, c.seed, d.phase, d.task, d.metric, d.value, d.cell_key "
                "FROM dev_results d JOIN cells c USING (cell_key) ORDER BY c.model, c.intermediate, c.target, c.seed")]
        keep = None if cell_keys is None else set(cell_keys)
        return rows if keep is None else [row for row in rows if row["cell_key"] in keep]

    def examples(self, cell_key: str) -> dict:
        """language -> evaluation.units.PerExample of one cell (empty for stores written before they were kept)."""
        with self._connect() as db:
            if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'examples'").fetchone():
                return {}
            return {lang: PerExample.from_blob(blob) for lang, blob in
                    db.execute("SELECT language, data FROM examples WHERE cell_key = ?", (cell_key,))}

    def find_cells(self, prefix: str) -> list[tuple[str, str]]:
        """(cell_key, target) of the cells whose key starts with prefix."""
        with self._connect() as db:
            return db.execute("SELECT cell_key, target FROM cells WHERE substr(cell_key, 1, ?) = ?",
                              (len(prefix), prefix)).fetchall()

    def superseded(self) -> int:
        """Cells hidden by rows(latest=True): an identity's older runs."""
        with self._connect() as db:
            return db.execute(f"SELECT COUNT(*) FROM cells WHERE cell_key NOT IN ({LATEST_CELLS})").fetchone()[0]

    def cell_config(self, cell_key: str) -> dict:
        with self._connect() as db:
            config, versions = db.execute("SELECT config, versions FROM cells WHERE cell_key = ?", (cell_key,)).fetchone()
        return {"config": json.loads(config), "versions": json.loads(versions)}

    def export_csv(self, path: str | Path, latest: bool = False, **filters) -> int:
        rows = self.rows(latest=latest, **filters)
        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
        return len(rows)
