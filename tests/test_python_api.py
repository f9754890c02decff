"""The README's Python example runs as written, and `xstilts --version` prints the package version."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

import xstilts
from xstilts.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_python_example() -> str:
    section = README.read_text().split("## Using xstilts from Python", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_version_option():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"xstilts {xstilts.__version__}"


def test_readme_python_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(readme_python_example(), str(README), "exec"), namespace)
    printed = capsys.readouterr().out
    assert "'en':" in printed and "'de':" in printed  # F1 per language of the demo's XQuAD-style target
    assert {r["target"] for r in namespace["rows"]} == {"xquad"}
    assert {r["intermediate"] for r in namespace["rows"]} == {"baseline", "squad"}
    assert namespace["tables"] and (tmp_path / "demo/runs/results.db").exists()
