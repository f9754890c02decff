"""`xstilts report`: the main table's numbers, the files written, and the HTML rendering in Chromium."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.evaluation.xtreme_score import TASKS, xtreme_languages, xtreme_score
from xstilts.experiments.report import build_report, write_report
from xstilts.experiments.store import ResultsStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from screenshot_report import find_browser, screenshot  # noqa: E402

METRICS = {"xnli": ["accuracy"], "pawsx": ["accuracy"], "udpos": ["f1"], "panx": ["f1"], "xquad": ["exact_match", "f1"],
           "mlqa": ["exact_match", "f1"], "tydiqa": ["exact_match", "f1"], "bucc2018": ["f1"], "tatoeba": ["accuracy"]}
SETTINGS = {"baseline": 0.0, "mnli": 2.0, "squad_v1": -1.0}   # the change each setting makes to every score
MODELS = {"models/xlm-r": 50.0, "models/english-bert": 30.0}


def value(model, setting, target, seed, lang, metric) -> float:
    """Known numbers: model level + setting change + a per-seed, per-language and per-metric wobble
    (+2 for the first of XTREME's languages, -2 for the second, 0 for its others, so the mean over
    XTREME's languages has no language wobble; +24 for ro, which XTREME does not score)."""
    first, second = xtreme_languages(target)[:2]
    return (MODELS[model] + SETTINGS[setting] + (seed - 1.5) * 4 + {first: 2, second: -2, "ro": 24}.get(lang, 0)
            + (3 if metric == "f1" else 0) + TASKS.index(target))


def add_cells(store, languages=xtreme_languages, models=MODELS, targets=TASKS):
    for model in models:
        for setting in SETTINGS:
            for target in targets:
                for seed in (1, 2):
                    scores = {lang: {m: value(model, setting, target, seed, lang, m) for m in METRICS[target]}
                              for lang in languages(target)}
                    store.add_cell(f"{model}{setting}{target}{seed}", model, setting, target, seed, scores, {}, {}, 1.0)


@pytest.fixture
def store(tmp_path) -> ResultsStore:
    store = ResultsStore(tmp_path / "results.db")
    add_cells(store)  # every XTREME task on exactly XTREME's languages
    return store


def table(sections, title):
    return next(b for s in sections for b in s.blocks if getattr(b, "title", None) == title)


def test_main_table_has_baseline_scores_changes_and_the_xtreme_score(store):
    sections = build_report(store.rows())
    main = table(sections, "xlm-r")
    assert main.header == ["intermediate"] + TASKS + ["XTREME avg"]
    baseline, mnli, squad = main.rows
    # xquad: mean over seeds and languages of (EM + F1) / 2 = 50 + 0 + 0 + 0 + 1.5 + index
    assert baseline[1 + TASKS.index("xquad")] == f"{50 + 1.5 + TASKS.index('xquad'):.1f}"
    assert baseline[1 + TASKS.index("xnli")] == "50.0"
    assert mnli[0] == "mnli (Δ)" and set(mnli[1:]) == {"+2.0"}
    assert set(squad[1:]) == {"-1.0"}
    # all nine tasks: the average is xtreme_score's overall, with no "partial" mark
    per_task = {t: {lang: {m: sum(value("models/xlm-r", "baseline", t, s, lang, m) for s in (1, 2)) / 2
                           for m in METRICS[t]} for lang in xtreme_languages(t)} for t in TASKS}
    assert baseline[-1] == f"{xtreme_score(per_task)['overall']:.1f}"
    assert not main.note


def test_partial_targets_are_marked_and_models_compared_with_seed_spread(store):
    rows = [r for r in store.rows() if r["target"] in ("xquad", "udpos")]
    sections = build_report(rows)
    main = table(sections, "english-bert")
    assert main.rows[0][-1].endswith("†") and "2 of 9" in main.note
    assert not main.rows[0][1].endswith("†")  # each of the two is on XTREME's languages
    compared = table(sections, "xquad ((EM + F1) / 2)")
    assert compared.header == ["intermediate", "english-bert", "xlm-r"]
    # seeds 1 and 2 differ by 4 points: std = 4 / sqrt(2)
    xquad = 1.5 + TASKS.index("xquad")
    assert compared.rows[0] == ["baseline", f"{30 + xquad:.1f} ± 2.8 (n=2)", f"{50 + xquad:.1f} ± 2.8 (n=2)"]
    per_language = table(sections, "udpos (f1) – xlm-r")
    assert per_language.header == ["language", "baseline", "Δ mnli", "Δ squad_v1"]
    assert [r[0] for r in per_language.rows] == sorted(xtreme_languages("udpos")) + ["avg"]


def test_only_xtreme_languages_make_the_xtreme_score(tmp_path):
    """XQuAD with ro (which XTREME does not score): the XQuAD score and the XTREME avg leave ro out and
    stay complete, the all-language mean sits beside it marked not comparable; without zh they are partial."""
    with_ro, without_zh = ResultsStore(tmp_path / "ro.db"), ResultsStore(tmp_path / "zh.db")
    add_cells(with_ro, lambda t: xtreme_languages(t) + (("ro",) if t == "xquad" else ()), models=["models/xlm-r"])
    add_cells(without_zh, lambda t: tuple(l for l in xtreme_languages(t) if t != "xquad" or l != "zh"), models=["models/xlm-r"])
    xquad = 1 + TASKS.index("xquad")

    sections = build_report(with_ro.rows())
    main = table(sections, "xlm-r")
    assert main.rows[0][xquad] == f"{50 + 1.5 + TASKS.index('xquad'):.1f}" and not main.rows[0][-1].endswith("†")
    assert "xquad ro left out of its score" in main.note
    averages = {r[0]: r[1] for r in table(sections, "xquad ((EM + F1) / 2) – xlm-r").rows if r[0].startswith("avg")}
    # ro's +24 moves the 12-language mean by 2
    assert averages == {"avg, these languages (not comparable with XTREME)": f"{50 + 3.5 + TASKS.index('xquad'):.1f}",
                        "avg, XTREME's languages": f"{50 + 1.5 + TASKS.index('xquad'):.1f}"}

    main = table(build_report(without_zh.rows()), "xlm-r")
    assert main.rows[0][xquad].endswith("†") and main.rows[0][-1].endswith("†")
    assert "xquad lacks zh" in main.note


def test_report_command_writes_markdown_pngs_and_a_self_contained_page(store, tmp_path):
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["report", str(store.path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    markdown = (out / "report.md").read_text()
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    assert len(images) == 2 + 2 * 9  # one heatmap per model, one bar chart per model and target
    for name in images:
        assert (out / name).read_bytes().startswith(b"\x89PNG")
    page = (out / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == len(images)
    assert not re.search(r'(src|href)="(?!data:)', page)  # nothing outside the one file


def test_report_of_an_empty_store_is_a_one_line_error(tmp_path):
    ResultsStore(tmp_path / "results.db")
    result = CliRunner().invoke(app, ["report", str(tmp_path / "results.db"), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "no rows" in result.output


@pytest.mark.skipif(find_browser() is None, reason="chromium is not installed (apt-get install chromium)")
def test_html_report_renders_in_headless_chromium(store, tmp_path):
    from PIL import Image

    write_report(store.rows(), tmp_path / "report")
    shot = screenshot(tmp_path / "report" / "report.html", tmp_path / "shot.png", 1280, 1600)
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 1600)
    # the page drew something: text, tables and the heatmap's colours, not a blank or error page
    colours = image.resize((160, 200)).getcolors(maxcolors=100_000)
    assert len(colours) > 50
    assert any(b > r + 60 for _, (r, g, b) in colours), "no blue heatmap cells found"


def test_unbalanced_grid_header_side_by_side_average_and_bounded_figures(tmp_path):
    """A setting with an extra seed in one target: the header names the full product, the average
    over targets uses every seed's score (mean of the main table), and bar charts stay bounded."""
    from xstilts.experiments.report import MAX_FIGURE_WIDTH, language_bars, Results, summary

    store = ResultsStore(tmp_path / "results.db")
    add_cells(store, models=["models/xlm-r"], targets=["xquad", "udpos"])
    extra = {lang: {"f1": 99.0} for lang in xtreme_languages("udpos")}
    store.add_cell("extra", "models/xlm-r", "baseline", "udpos", 3, extra, {}, {}, 1.0)
    rows = store.rows()
    assert summary(rows) == ("13 cells of an unbalanced grid (1 models, 3 intermediate settings, 2 targets, 3 seeds: "
                             "18 in the full product); missing cells are left out.")
    sections = build_report(rows)
    main, compared = table(sections, "xlm-r"), table(sections, "XTREME avg")
    assert compared.rows[0][1] == f"{main.rows[0][-1].rstrip('†')} (seeds differ per target)"
    assert compared.rows[1][1].endswith("(n=2)")  # mnli: both targets have seeds 1 and 2
    wide = Results([dict(r, language=f"l{i}") for i in range(36) for r in rows if r["language"] == "de"], "baseline")
    from PIL import Image
    image = Image.open(io.BytesIO(language_bars(wide, "models/xlm-r", "udpos").png))
    assert image.size[0] <= MAX_FIGURE_WIDTH * 110 + 50  # dpi 110, tight bounding box
