"""Run the bad-input probes of tests/test_bad_inputs.py and print what each one does, as Markdown.

    PYTHONPATH=src python scripts/bad_input_probes.py > probes.md
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_bad_inputs import PROBES, run_probe  # noqa: E402

from xstilts.quiet import quiet_libraries  # noqa: E402
from xstilts.demo import build_tiny_model, corpus_texts, write_fixtures  # noqa: E402


def main() -> None:
    quiet_libraries()
    root = Path(tempfile.mkdtemp(prefix="xstilts-probes-"))
    data = write_fixtures(root / "data")
    model = build_tiny_model(root / "tiny", corpus_texts(("en", "de", "es")), hidden=32, layers=1, vocab_size=400)
    print("| probe | exit | message | cells stored | written outside |\n|---|---|---|---|---|")
    for number, probe in enumerate(PROBES):
        sandbox = root / f"probe{number}" / "sandbox"
        sandbox.mkdir(parents=True)
        code, message, cells, outside = run_probe(probe, data, model, sandbox)
        message = message.replace(str(sandbox), "…").replace("|", "\\|")
        print(f"| {probe.name} | {code} | `{message}` | {cells} | {len(outside)} |")


if __name__ == "__main__":
    main()
