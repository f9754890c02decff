"""`xstilts predictions` (XTREME's submission layout) and `xstilts results --json`."""

import json

from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.evaluation.units import PerExample
from xstilts.experiments.store import ResultsStore


def stored(tmp_path) -> ResultsStore:
    store = ResultsStore(tmp_path / "results.db")
    qa = {"de": PerExample(["q1", "q2"], ["Sänger", ""], {"exact_match": [1.0, 0.0], "f1": [1.0, 0.0]})}
    tags = {"es": PerExample(["s1", "s2"], [["NOUN", "VERB"], ["PUNCT"]], {"tp": [1.0, 1.0], "n_pred": [1.0, 1.0],
                                                                           "n_true": [1.0, 1.0]})}
    store.add_cell("aaa1", "m", "baseline", "xquad", 1, {"de": {"exact_match": 50.0, "f1": 50.0}}, {"lr": 1e-3},
                   {"torch": "2"}, 1.0, examples=qa)
    store.add_cell("bbb2", "m", "squad", "udpos", 2, {"es": {"f1": 100.0}}, {"lr": 2e-3}, {"torch": "2"}, 1.0,
                   examples=tags)
    return store


def test_predictions_in_xtremes_submission_layout(tmp_path):
    store, out = stored(tmp_path), tmp_path / "predictions"
    runner = CliRunner()
    assert runner.invoke(app, ["predictions", str(store.path), "aaa", "--to", str(out)]).exit_code == 0
    assert json.loads((out / "xquad" / "test-de.json").read_text()) == {"q1": "Sänger", "q2": ""}
    assert runner.invoke(app, ["predictions", str(store.path), "bbb2", "--to", str(out)]).exit_code == 0
    assert (out / "udpos" / "test-es.tsv").read_text() == "NOUN\nVERB\n\nPUNCT\n\n"
    missing = runner.invoke(app, ["predictions", str(store.path), "zzz", "--to", str(out)])
    assert missing.exit_code == 2 and "no cells with a key starting 'zzz'" in missing.output


def test_results_json_has_scores_configs_and_versions(tmp_path):
    store = stored(tmp_path)
    result = CliRunner().invoke(app, ["results", str(store.path), "--json", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    written = json.loads((tmp_path / "r.json").read_text())
    assert written["results"]["m"]["squad"]["udpos"]["2"]["es"] == {"f1": 100.0}
    assert written["results"]["m"]["baseline"]["xquad"]["1"]["de"] == {"exact_match": 50.0, "f1": 50.0}
    cells = {c["cell_key"]: c for c in written["cells"]}
    assert cells["bbb2"]["config"] == {"lr": 2e-3} and cells["bbb2"]["versions"] == {"torch": "2"}
    assert cells["aaa1"]["target"] == "xquad" and cells["aaa1"]["seed"] == 1
