"""Run every cell of a grid (models x intermediate settings x targets x seeds).

Executors differ only in *where* cells run; what a cell is, how it is keyed and when it is
skipped stays in Pipeline. Cells are grouped by (model, setting, seed): a group trains its
intermediate checkpoint once and then fine-tunes/evaluates every target from it, so a group
is the unit of parallel work. Results go to the run's SQLite store, one transaction per cell,
which is safe with several writer processes (sqlite3 locks the file; the store waits on it).
"""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.console import Console

from ..config import ExperimentConfig, save_config
from ..errors import XstiltsError
from ..quiet import quiet_libraries
from ..training.tracking import run_log
from .pipeline import Pipeline
from .preflight import check_inputs

# Environment a Ray worker needs to see the same caches and thread settings as the driver.
FORWARDED_ENV = ("XSTILTS_CACHE", "HF_HOME", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "OMP_NUM_THREADS")


@dataclass
class GridSummary:
    total: int                       # cells in the grid
    done_before: int                 # cells already in the store when the run started
    done_after: int                  # cells in the store when the run ended
    wall_seconds: float
    failures: list[str] = field(default_factory=list)


def group_cells(pipeline: Pipeline) -> dict[tuple[str, str, int], list[str]]:
    """(model, setting name, seed) -> targets, in the grid's order."""
    groups: dict[tuple[str, str, int], list[str]] = {}
    for cell in pipeline.cells():
        groups.setdefault((cell.model, cell.setting.name, cell.seed), []).append(cell.spec.name)
    return groups


def finished(pipeline: Pipeline) -> set[tuple[str, str, int, str]]:
    """The grid's cells whose key is already in the store."""
    return {(c.model, c.setting.name, c.seed, c.spec.name) for c in pipeline.cells() if pipeline.store.has_cell(c.key)}


def run_local(config: ExperimentConfig, console: Console, **_) -> list[str]:
    """Sequential, in this process: exactly Pipeline.run() (run_grid has checked the inputs)."""
    Pipeline(config, console).run(check=False)
    return []


def run_group(config_json: dict, model: str, setting_name: str, seed: int, targets: list[str]) -> int:
    """One group, in whatever process runs it: the intermediate checkpoint, then each target."""
    quiet_libraries()  # workers start bare: silence library progress bars there too
    config = ExperimentConfig.model_validate(config_json)
    pipeline = Pipeline(config)
    setting = next(s for s in config.intermediate if s.name == setting_name)
    with run_log(config.output_dir):
        for target in targets:
            pipeline.run_cell(pipeline.planner.cell(model, setting, seed, target))
    return len(targets)


def run_ray(config: ExperimentConfig, console: Console, address: str | None = None, num_cpus: int | None = None,
            cpus_per_task: float = 1, gpus_per_task: float = 0) -> list[str]:
    """One Ray task per unfinished (model, setting, seed) group; returns the failed groups."""
    try:
        import ray
    except ImportError:
        raise XstiltsError("the ray executor needs Ray: pip install 'xstilts[ray]'") from None

    pipeline = Pipeline(config, console)
    save_config(config, config.output_dir / "config.json", {"versions": pipeline.versions})  # as Pipeline.run does
    done = finished(pipeline)
    todo = {key: [t for t in targets if (*key, t) not in done] for key, targets in group_cells(pipeline).items()}
    todo = {key: targets for key, targets in todo.items() if targets}
    if not todo:
        return []
    env = {name: os.environ[name] for name in FORWARDED_ENV if name in os.environ}
    started_here = not ray.is_initialized()
    if started_here:
        # address=None starts a private local instance sized by num_cpus; an address joins a cluster
        ray.init(address=address, num_cpus=num_cpus if address is None else None, include_dashboard=False,
                 runtime_env={"env_vars": env} if env else None, logging_level="WARNING")
    # Ray retries a group whose worker died (not one that raised); the retry resumes from
    # the group's checkpoints and skips its finished cells, like any resumed run.
    remote = ray.remote(num_cpus=cpus_per_task, num_gpus=gpus_per_task)(run_group)
    config_json = config.model_dump(mode="json")
    pending = {remote.remote(config_json, *key, targets): key for key, targets in todo.items()}
    console.log(f"ray: {len(pending)} groups ({sum(map(len, todo.values()))} cells) on {ray.cluster_resources().get('CPU', 0):g} CPUs")
    failures = []
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            model, setting, seed = pending.pop(ready[0])
            try:
                ray.get(ready[0])
                console.log(f"ray: group {model} / {setting} / seed {seed} finished ({len(pending)} left)")
            except ray.exceptions.RayError as err:
                failures.append(f"{model} / {setting} / seed {seed}: {err}")
                console.log(f"[red]ray: group {model} / {setting} / seed {seed} failed[/]")
    finally:
        if started_here:
            ray.shutdown()
    return failures


EXECUTORS = {"local": run_local, "ray": run_ray}


@contextmanager
def exclusive(output_dir):
    """One driver (`run` or `grid`) per output directory: two would train the same checkpoints in the
    same folders. The kernel drops the lock when the holder dies, so a killed run never blocks its resume.
    The processes of one torchrun / accelerate launch are one driver: rank 0 holds the lock for them."""
    output_dir.mkdir(parents=True, exist_ok=True)
    if os.environ.get("RANK", "0") != "0":
        yield
        return
    with open(output_dir / "grid.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise XstiltsError(f"another xstilts run or grid is using {output_dir} (grid.lock is held)") from None
        yield


def run_grid(config: ExperimentConfig, executor: str = "local", console: Console | None = None, **options) -> GridSummary:
    """Run (or resume) the whole grid with the chosen executor and count what got done."""
    if executor not in EXECUTORS:
        raise XstiltsError(f"unknown executor {executor!r}; choose from: {', '.join(EXECUTORS)}")
    console = console or Console()
    with exclusive(config.output_dir):  # first: a second driver is refused before it reads anything
        pipeline = Pipeline(config, console)
        check_inputs(pipeline)  # a missing model or a bad, unlabelled file stops the grid before any training
        total = len(config.models) * len(config.intermediate) * len(config.seeds) * len(config.targets)
        before = len(finished(pipeline))
        started = time.time()
        failures = EXECUTORS[executor](config, console, **options)
        return GridSummary(total, before, len(finished(pipeline)), time.time() - started, failures)
