"""benchmarks/gpu_check.py at tiny scale on the CPU: every measurement runs and lands in the report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from xstilts.demo import build_tiny_model, corpus_texts

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"


def test_tiny_gpu_check_measures_everything_and_writes_the_report(tmp_path):
    tokenizer = build_tiny_model(tmp_path / "tok", corpus_texts(["en", "de"]))
    out = tmp_path / "gpu_check.md"
    # a generous budget: on busy shared cores the default one could skip measurements
    result = subprocess.run([sys.executable, str(SCRIPT), "--tiny", "--tokenizer", str(tokenizer), "--out", str(out),
                             "--budget", "120"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    text = out.read_text()
    records = json.loads(text.split("```json\n")[1].split("```")[0])
    by_section: dict[str, list[dict]] = {}
    for record in records:
        by_section.setdefault(record["section"], []).append(record)

    training = by_section["Training throughput"]
    assert sorted((r["length"], r["checkpointing"]) for r in training) == [
        (length, mode) for length in (32, 48, 64) for mode in ("off", "on")]
    assert all(r["tokens/s"] > 0 and r["steps"] >= 3 for r in training)
    assert [r["length"] for r in by_section["Evaluation throughput"]] == [32, 48, 64]
    assert all(r["sequences/s"] > 0 for r in by_section["Evaluation throughput"])

    arms = {r["arm"]: r for r in by_section["xstilts loop vs HF Trainer"]}
    assert set(arms) == {"HF Trainer", "xstilts loop"}
    assert arms["HF Trainer"]["examples"] == arms["xstilts loop"]["examples"] > 0  # the same epoch for both
    loop, trainer = arms["xstilts loop"], arms["HF Trainer"]
    assert loop["vs HF Trainer"] == f"{trainer['seconds'] / loop['seconds']:.2f}x"

    assert {r["checkpointing"] for r in by_section["Largest batch"]} == {"off", "on"}
    assert all(r["largest batch that fits"] >= 4 for r in by_section["Largest batch"])
    assert "total wall time" in text and "| xstilts loop | 48 |" in text
