"""DIR/MANIFEST.json: what `xstilts data fetch` wrote, from where, at which revision.

{"tasks": {task: {"complete", "layout", "sources": {origin (repo/config@revision or URL): resolved commit or sha256},
                  "files": {relative path: sha256}, "counts": {split: {lang: examples}}}},
 "parts": {part key: {"resolved", "files": {relative path: sha256}}}}   # resume points
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import DataFormatError

MANIFEST = "MANIFEST.json"


def read_manifest(data_dir: str | Path) -> dict:
    path = Path(data_dir) / MANIFEST
    if not path.exists():
        return {"tasks": {}, "parts": {}}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise DataFormatError(path, e.lineno, f"invalid JSON: {e.msg}") from None


def write_manifest(data_dir: str | Path, manifest: dict) -> None:
    """Atomic: an interrupted fetch leaves the previous manifest, never half of one."""
    path = Path(data_dir) / MANIFEST
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    os.replace(tmp, path)


def task_provenance(data_dir: str | Path, task: str) -> dict | None:
    """Sources and revisions a complete fetch of `task` recorded (None: not fetched)."""
    entry = read_manifest(data_dir)["tasks"].get(task)
    return {"sources": entry["sources"]} if entry and entry.get("complete") else None


def data_provenance(data_dir: str | Path, tasks) -> dict:
    """Cell-key entry for the fetched tasks among `tasks`; {} when none was fetched (keys stay as before)."""
    found = {task: p for task in tasks if (p := task_provenance(data_dir, task))}
    return {"data_provenance": found} if found else {}
