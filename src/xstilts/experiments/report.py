"""Report of a results store: Markdown with PNG files beside it, and one self-contained HTML page.

Sections: the paper's main table (per target the baseline score and each intermediate
setting's change, plus the XTREME average), per-language tables, a heatmap of gains and
per-language bar charts, and the models side by side (mean ± std over seeds).
Scores are the XTREME headline metrics (`evaluation.xtreme_score`; QA = (EM + F1) / 2),
averaged over seeds.
"""

from __future__ import annotations

import base64
import html
import io
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean, stdev

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..errors import XstiltsError  # noqa: E402
from ..evaluation.xtreme_score import TASKS as XTREME_TASKS  # noqa: E402
from ..evaluation.xtreme_score import xtreme_languages, xtreme_score  # noqa: E402
from ..tasks.registry import get_task  # noqa: E402
from .cells import slug  # noqa: E402

AVG = "XTREME avg"
MAX_FIGURE_WIDTH = 14.0  # inches (about 1,500 px at the report's dpi)


# ---- what a report is made of --------------------------------------------------------
@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[str]]
    note: str = ""


@dataclass
class Figure:
    name: str        # file name of the PNG
    title: str
    png: bytes


@dataclass
class Section:
    heading: str
    intro: str = ""
    blocks: list[Table | Figure] = field(default_factory=list)


# ---- scores -------------------------------------------------------------------------
def score(target: str, metrics_by_lang: dict[str, dict[str, float]]) -> float:
    """Headline score of one target, averaged over the given languages."""
    return fmean(get_task(target).headline_value(m) for m in metrics_by_lang.values())


class Results:
    """The rows of a store, indexed: (model, setting, target, seed) -> {lang: {metric: value}}."""

    def __init__(self, rows: list[dict], baseline: str):
        if not rows:
            raise XstiltsError("the results store has no rows yet: run `xstilts grid` first")
        self.cells: dict[tuple, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
        for row in rows:
            self.cells[(row["model"], row["intermediate"], row["target"], row["seed"])][row["language"]][row["metric"]] = row["value"]
        keys = list(self.cells)
        self.models = sorted({k[0] for k in keys})
        order = {t: i for i, t in enumerate(XTREME_TASKS)}
        self.targets = sorted({k[2] for k in keys}, key=lambda t: (order.get(t, len(order)), t))
        self.settings = sorted({k[1] for k in keys}, key=lambda s: (s != baseline, s))
        self.baseline = baseline if baseline in self.settings else None
        self.evaluated = defaultdict(set)  # (model, target) -> every language evaluated in some cell
        for (model, _, target, _), metrics in self.cells.items():
            self.evaluated[(model, target)].update(metrics)
        names = {m: Path(m).name or m for m in self.models}  # short names when they stay unique
        self.names = names if len(set(names.values())) == len(names) else {m: m for m in self.models}

    def seeds(self, model, setting, target) -> list[int]:
        return sorted(k[3] for k in self.cells if k[:3] == (model, setting, target))

    def headline_languages(self, model, target) -> list[str]:
        """XTREME's languages of an XTREME target evaluated on all of them (a comparable score),
        else every evaluated language."""
        if target in XTREME_TASKS and set(xtreme_languages(target)) <= self.evaluated[(model, target)]:
            return list(xtreme_languages(target))
        return self.languages(model, target)

    def comparable(self, model, target) -> bool:
        """Whether the target's headline score is XTREME's (non-XTREME targets have nothing to compare with)."""
        return target not in XTREME_TASKS or set(xtreme_languages(target)) <= self.evaluated[(model, target)]

    def per_seed(self, model, setting, target, langs=None) -> list[float]:
        """One score per seed, over the headline languages or the given ones."""
        langs = langs or self.headline_languages(model, target)
        out = []
        for seed in self.seeds(model, setting, target):
            metrics = self.cells[(model, setting, target, seed)]
            chosen = {l: metrics[l] for l in langs if l in metrics}
            if chosen:  # a seed may lack a language another setting has
                out.append(score(target, chosen))
        return out

    def mean(self, model, setting, target, langs=None) -> float | None:
        values = self.per_seed(model, setting, target, langs)
        return fmean(values) if values else None

    def languages(self, model, target) -> list[str]:
        return sorted(self.evaluated[(model, target)])

    def averaged(self, model, setting, target) -> dict[str, dict[str, float]]:
        """{lang: {metric: mean over seeds}}."""
        values = defaultdict(lambda: defaultdict(list))
        for seed in self.seeds(model, setting, target):
            for lang, metrics in self.cells[(model, setting, target, seed)].items():
                for metric, value in metrics.items():
                    values[lang][metric].append(value)
        return {lang: {m: fmean(v) for m, v in metrics.items()} for lang, metrics in values.items()}

    def xtreme_avg(self, model, setting) -> tuple[float | None, bool]:
        """(mean of the target scores, complete): complete only for the nine XTREME tasks, each on
        all of XTREME's languages, and then it is xtreme_score's overall (XTREME's languages only)."""
        xtreme = xtreme_score({t: self.averaged(model, setting, t) for t in self.targets if t in XTREME_TASKS})
        if xtreme["overall"] is not None and set(self.targets) <= set(XTREME_TASKS):
            return xtreme["overall"], True
        scores = [v for t in self.targets for v in [self.mean(model, setting, t)] if v is not None]
        return (fmean(scores) if scores else None), False

    def language_differences(self, model) -> list[str]:
        """Per XTREME target whose evaluated languages differ from XTREME's: what differs."""
        out = []
        for target in self.targets:
            if target in XTREME_TASKS:
                evaluated, xtreme = self.evaluated[(model, target)], set(xtreme_languages(target))
                extra = f"{' '.join(sorted(evaluated - xtreme))} left out of its score" if evaluated - xtreme else ""
                missing = f"lacks {' '.join(sorted(xtreme - evaluated))}" if xtreme - evaluated else ""
                if extra or missing:
                    out.append(f"{target} {'; '.join(filter(None, [missing, extra]))}")
        return out


def fmt(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.1f}" if signed else f"{value:.1f}"


def mean_std(values: list[float]) -> str:
    if not values:
        return "–"
    spread = f" ± {stdev(values):.1f}" if len(values) > 1 else ""
    return f"{fmean(values):.1f}{spread} (n={len(values)})"


# ---- sections -----------------------------------------------------------------------
def main_tables(r: Results) -> Section:
    section = Section("Main results", "Per target task: the baseline's score and each intermediate setting's change "
                      f"(mean over seeds). Scores are XTREME headline metrics (QA: (EM + F1) / 2); "
                      f"**{AVG}** averages the targets present (with all nine it is the XTREME score).")
    for model in r.models:
        rows = []
        for setting in r.settings:
            base = setting == r.baseline or r.baseline is None
            cells = [setting + ("" if base else " (Δ)")]
            for target in r.targets:
                value = r.mean(model, setting, target)
                ref = None if base else r.mean(model, r.baseline, target)
                cells.append((fmt(value) if base else fmt(None if value is None or ref is None else value - ref, True))
                             + ("" if r.comparable(model, target) else "†"))
            avg, complete = r.xtreme_avg(model, setting)
            ref = None if base else r.xtreme_avg(model, r.baseline)[0]
            cells.append((fmt(avg) if base else fmt(None if avg is None or ref is None else avg - ref, True))
                         + ("" if complete else "†"))
            rows.append(cells)
        section.blocks.append(Table(r.names[model], ["intermediate"] + r.targets + [AVG], rows, comparability_note(r, model)))
    return section


def comparability_note(r: Results, model: str) -> str:
    """Why the scores marked † are not comparable with XTREME's, and which languages XTREME does not score."""
    n_xtreme = sum(t in XTREME_TASKS for t in r.targets)
    reasons = ([] if n_xtreme == len(r.targets) == len(XTREME_TASKS) else
               [f"{n_xtreme} of {len(XTREME_TASKS)} XTREME tasks" + (f" and {len(r.targets) - n_xtreme} other(s)"
                                                                    if len(r.targets) > n_xtreme else "")])
    reasons += r.language_differences(model)
    if not reasons:
        return ""
    return ("† not comparable with XTREME (partial: XTREME's language list per task is required): " + "; ".join(reasons)
            + ". Averages over other language sets are in the per-language tables, marked not comparable.")


def language_sections(r: Results) -> Section:
    section = Section("Per-language results", "Headline score per evaluation language (mean over seeds); Δ columns "
                      "are changes from the baseline. Bars: mean over seeds; whiskers: standard deviation.")
    for model in r.models:
        for target in r.targets:
            section.blocks += [language_table(r, model, target), language_bars(r, model, target)]
    return section


def language_table(r: Results, model: str, target: str) -> Table:
    langs = r.languages(model, target)
    others = [s for s in r.settings if s != r.baseline]
    header = ["language"] + ([r.baseline] if r.baseline else []) + [f"Δ {s}" if r.baseline else s for s in others]
    averages = {"avg": langs}
    if not r.comparable(model, target) or r.headline_languages(model, target) != langs:
        averages = {"avg, these languages (not comparable with XTREME)": langs}
        if r.comparable(model, target):
            averages["avg, XTREME's languages"] = r.headline_languages(model, target)
    rows = []
    for lang in langs + list(averages):
        chosen = averages.get(lang, [lang])
        base = r.mean(model, r.baseline, target, chosen) if r.baseline else None
        cells = [lang] + ([fmt(base)] if r.baseline else [])
        for setting in others:
            value = r.mean(model, setting, target, chosen)
            cells.append(fmt(value - base if None not in (value, base) else None, True) if r.baseline else fmt(value))
        rows.append(cells)
    return Table(f"{target} ({get_task(target).headline_name}) – {r.names[model]}", header, rows)


def target_average(r: Results, model: str, setting: str) -> str:
    """Mean over targets of each target's mean over all its seeds (as the main table); the spread over
    seeds only when every target has the same seeds, since a seed's average needs all targets."""
    means = [r.mean(model, setting, t) for t in r.targets]
    if None in means:
        return "–"
    seeds = {tuple(r.seeds(model, setting, t)) for t in r.targets}
    if len(seeds) > 1:
        return f"{fmean(means):.1f} (seeds differ per target)"
    return mean_std([fmean(values) for values in zip(*(r.per_seed(model, setting, t) for t in r.targets))])


def comparison_tables(r: Results) -> Section:
    section = Section("Models side by side", "Each model's headline score per target and intermediate setting: "
                      "mean ± standard deviation over seeds (n = seeds).")
    for target in r.targets + [AVG]:
        rows = []
        for setting in r.settings:
            cells = [setting]
            for model in r.models:
                if target == AVG:
                    cells.append(target_average(r, model, setting))
                else:
                    cells.append(mean_std(r.per_seed(model, setting, target)))
            rows.append(cells)
        title = AVG if target == AVG else f"{target} ({get_task(target).headline_name})"
        section.blocks.append(Table(title, ["intermediate"] + [r.names[m] for m in r.models], rows))
    return section


# ---- figures ------------------------------------------------------------------------
def png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def heatmaps(r: Results) -> Section:
    section = Section("Gains over the baseline", "Change in headline score from intermediate training "
                      "(rows: intermediate settings, columns: targets; mean over seeds).")
    others = [s for s in r.settings if s != r.baseline]
    if not r.baseline or not others:
        section.intro = "No baseline and intermediate settings to compare."
        return section
    columns = r.targets + [AVG]
    per_model = {}
    for model in r.models:
        gains = np.full((len(others), len(columns)), np.nan)
        for i, setting in enumerate(others):
            for j, target in enumerate(r.targets):
                value, base = r.mean(model, setting, target), r.mean(model, r.baseline, target)
                if None not in (value, base):
                    gains[i, j] = value - base
            avg, base = r.xtreme_avg(model, setting)[0], r.xtreme_avg(model, r.baseline)[0]
            if None not in (avg, base):
                gains[i, -1] = avg - base
        per_model[model] = gains
    # one scale for every model's map, so equal colours mean equal gains
    finite = [np.abs(g[np.isfinite(g)]) for g in per_model.values()]
    limit = max([1.0] + [float(a.max()) for a in finite if a.size])
    metrics = ", ".join(f"{t}: {get_task(t).headline_name}" for t in r.targets)
    for model, gains in per_model.items():
        fig, ax = plt.subplots(figsize=(1.1 * len(columns) + 2.5, 0.55 * len(others) + 1.6))
        image = ax.imshow(gains, cmap="RdBu", vmin=-limit, vmax=limit, aspect="auto")  # blue = gain, red = loss
        ax.set_xticks(range(len(columns)), columns, rotation=30, ha="right")
        ax.set_yticks(range(len(others)), others)
        for (i, j), value in np.ndenumerate(gains):
            if np.isfinite(value):
                ax.text(j, i, f"{value:+.1f}", ha="center", va="center", fontsize=9,
                        color="white" if abs(value) > 0.6 * limit else "black")
        fig.colorbar(image, ax=ax, label="Δ headline score (points)")
        ax.set_title(f"Gain over {r.baseline} – {r.names[model]}\n{metrics}", fontsize=9)
        section.blocks.append(Figure(f"heatmap_{slug(r.names[model])}.png", f"Gains – {r.names[model]}", png(fig)))
    return section


def language_bars(r: Results, model: str, target: str) -> Figure:
    langs = r.languages(model, target)
    width = 0.8 / len(r.settings)
    colours = plt.get_cmap("tab10")
    # bounded: many languages get thinner bars, not a wider image
    fig, ax = plt.subplots(figsize=(min(MAX_FIGURE_WIDTH, max(5.0, 0.45 * len(langs) * len(r.settings) + 2)), 3.2))
    for k, setting in enumerate(r.settings):
        per_lang = [r.per_seed(model, setting, target, [lang]) for lang in langs]
        means = [fmean(v) if v else np.nan for v in per_lang]
        stds = [stdev(v) if len(v) > 1 else np.nan for v in per_lang]  # one seed: no whisker, not a zero one
        ax.bar(np.arange(len(langs)) + (k - (len(r.settings) - 1) / 2) * width, means, width,
               yerr=None if np.isnan(stds).all() else stds,
               label=setting, color=colours(k % 10), capsize=2,
               error_kw={"elinewidth": 0.8, "ecolor": "#444"})
    ax.set_xticks(range(len(langs)), langs, fontsize=8 if len(langs) > 20 else 10, rotation=90 if len(langs) > 20 else 0)
    ax.set_ylabel(get_task(target).headline_name)
    ax.set_title(f"{target} – {r.names[model]}")
    ax.legend(fontsize=8, ncols=min(len(r.settings), 4), loc="upper left", bbox_to_anchor=(0, -0.12))
    return Figure(f"languages_{slug(r.names[model])}_{target}.png", f"{target} per language – {r.names[model]}", png(fig))


SECTIONS = (main_tables, heatmaps, language_sections, comparison_tables)


def build_report(rows: list[dict], baseline: str = "baseline", examples=None) -> list[Section]:
    """examples: cell_key -> {language: PerExample} (ResultsStore.examples); given, a significance
    section follows the main tables."""
    results = Results(rows, baseline)
    sections = [make(results) for make in SECTIONS]
    if examples is not None:
        from .significance_report import significance_section  # it builds on this module's tables

        sections.insert(1, significance_section(results, rows, examples))
    return sections


# ---- rendering ----------------------------------------------------------------------
def summary(rows: list[dict]) -> str:
    count = lambda key: len({row[key] for row in rows})
    cells, product = len({row["cell_key"] for row in rows}), count("model") * count("intermediate") * count("target") * count("seed")
    dims = (f"{count('model')} models, {count('intermediate')} intermediate settings, {count('target')} targets, "
            f"{count('seed')} seeds")
    if cells == product:
        return f"{cells} cells: {dims.replace(', ', ' × ')}."
    return f"{cells} cells of an unbalanced grid ({dims}: {product} in the full product); missing cells are left out."


def to_markdown(sections: list[Section], lead: str) -> str:
    out = ["# X-STILTs report", "", lead, ""]
    for section in sections:
        out += [f"## {section.heading}", "", section.intro, ""]
        for block in section.blocks:
            if isinstance(block, Figure):
                out += [f"![{block.title}]({block.name})", ""]
                continue
            out += [f"### {block.title}", "", "| " + " | ".join(block.header) + " |",
                    "|" + "|".join([":---"] + ["---:"] * (len(block.header) - 1)) + "|"]
            out += ["| " + " | ".join(row) + " |" for row in block.rows]
            out += ["", block.note, ""] if block.note else [""]
    return "\n".join(out)


CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em; color: #222; }
h1 { border-bottom: 2px solid #444; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 2em 1.5em 0; display: inline-table; vertical-align: top; }
th, td { border: 1px solid #ccc; padding: 3px 9px; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f0f0f0; } caption { text-align: left; font-weight: 600; padding: 4px 0; }
td.pos { color: #0a5fa8; } td.neg { color: #b3261e; }
figure { margin: 0.5em 2em 1.5em 0; display: inline-block; vertical-align: top; } img { max-width: 100%; } figcaption { color: #555; font-size: 13px; }
.note { color: #555; font-size: 13px; margin-top: -1em; }
"""


def cell_class(text: str) -> str:
    if text.startswith("+") and text.strip("+0.†") != "":
        return ' class="pos"'
    return ' class="neg"' if text.startswith("-") and text.strip("-0.†") != "" else ""


def to_html(sections: list[Section], lead: str) -> str:
    esc = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', "<title>X-STILTs report</title>",
           f"<style>{CSS}</style></head><body>", "<h1>X-STILTs report</h1>", f"<p>{esc(lead)}</p>"]
    for section in sections:
        out += [f"<h2>{esc(section.heading)}</h2>", f"<p>{inline_md(section.intro)}</p>"]
        for block in section.blocks:
            if isinstance(block, Figure):  # embedded: the page is one file
                data = base64.b64encode(block.png).decode()
                out.append(f'<figure><img alt="{esc(block.title)}" src="data:image/png;base64,{data}">'
                           f"<figcaption>{esc(block.title)}</figcaption></figure>")
                continue
            out.append(f"<table><caption>{esc(block.title)}</caption><thead><tr>"
                       + "".join(f"<th>{esc(h)}</th>" for h in block.header) + "</tr></thead><tbody>")
            out += ["<tr>" + "".join(f"<td{cell_class(c)}>{esc(c)}</td>" for c in row) + "</tr>" for row in block.rows]
            out.append("</tbody></table>")
            if block.note:
                out.append(f'<p class="note">{esc(block.note)}</p>')
    return "\n".join(out + ["</body></html>", ""])


def inline_md(text: str) -> str:
    """The intros' only Markdown is **bold**."""
    parts = html.escape(text).split("**")
    return "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts))


def write_report(rows: list[dict], out_dir: str | Path, baseline: str = "baseline", examples=None) -> list[Path]:
    """Write report.md (+ its PNGs) and the self-contained report.html; returns the paths written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sections = build_report(rows, baseline, examples)
    lead = summary(rows)
    written = []
    for section in sections:
        for block in section.blocks:
            if isinstance(block, Figure):
                (out_dir / block.name).write_bytes(block.png)
                written.append(out_dir / block.name)
    for name, text in (("report.md", to_markdown(sections, lead)), ("report.html", to_html(sections, lead))):
        (out_dir / name).write_text(text, encoding="utf-8")
        written.append(out_dir / name)
    return written
