"""The X-STILTs recipe over a grid: plan each cell, run its phases, store its result.

Every cell (model x intermediate setting x target x seed) is keyed by a hash of its full
configuration and of its data files' contents; finished cells are skipped, so an interrupted run
resumes where it stopped. One intermediate checkpoint feeds all targets, and targets with the same
English training data (XQuAD and MLQA both train on SQuAD) share one fine-tune.
"""

from __future__ import annotations

import time
from typing import Iterator

from accelerate import PartialState
from rich.console import Console

from ..config import ExperimentConfig, save_config
from ..training.loop import runs_on_cpu
from ..training.tracking import logger, run_log
from .cells import CellPlan, Planner
from .phases import Phases
from .preflight import check_inputs
from .provenance import library_versions
from .store import ResultsStore
from .task_data import TaskData


class Pipeline:
    def __init__(self, config: ExperimentConfig, console: Console | None = None):
        self.config = config
        self.console = console or Console()
        self.store = ResultsStore(config.output_dir / "results.db")
        self.versions = library_versions()
        self.data = TaskData(config)
        self.planner = Planner(config, self.data)
        self.phases = Phases(config, self.data)

    def cells(self) -> Iterator[CellPlan]:
        """Every cell's plan, in the grid's order: a (model, setting, seed) group's targets together."""
        for model in self.config.models:
            for setting in self.config.intermediate:
                for seed in self.config.seeds:
                    for target in self.config.targets:
                        yield self.planner.cell(model, setting, seed, target)

    def current_rows(self) -> list[dict]:
        """Stored rows of this config's cells only, not of earlier runs with other settings or data."""
        return self.store.rows(cell_keys=[cell.key for cell in self.cells()])

    def run(self, check: bool = True) -> ResultsStore:
        if check:  # a bad file or model path ends the run before anything trains
            check_inputs(self)
        save_config(self.config, self.config.output_dir / "config.json", {"versions": self.versions})
        with run_log(self.config.output_dir):
            for cell in self.cells():
                self.run_cell(cell)
        return self.store

    def run_cell(self, cell: CellPlan) -> str:
        if self.store.has_cell(cell.key):
            return cell.key
        started = time.time()
        self.console.log(f"cell {cell.label}")
        logger.info("cell %s (%s) started", cell.label, cell.key)
        # the CPU rule of make_accelerator: the first PartialState decides whether processes join one group
        state, evaluated = PartialState(cpu=runs_on_cpu(self.config.device)), self.phases.evaluated
        result = self.phases.run(cell)  # under several processes each evaluates a share and gets every score
        if state.num_processes > 1:
            self.console.log(f"process {state.process_index}/{state.num_processes} evaluated "
                             f"{self.phases.evaluated - evaluated} inputs of {cell.label}")
        if state.is_main_process:
            self.store.add_cell(cell.key, cell.model, cell.setting.name, cell.spec.name, cell.seed, result.metrics,
                                cell.config, self.versions, time.time() - started, dev=result.dev,
                                examples=result.examples)
            logger.info("cell %s stored in %.0fs", cell.label, time.time() - started)
        state.wait_for_everyone()  # every process sees the cell stored before it plans the next one
        return cell.key
