"""One training loop for every phase: single- or multi-task, on Accelerate.

The whole batch schedule is drawn from the seed before the first step, so a run resumed from
a checkpoint replays exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from accelerate.utils import DistributedDataParallelKwargs, set_seed
from datasets import Dataset
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from transformers import get_linear_schedule_with_warmup

from ..config import TrainSettings
from ..data.features import MODEL_INPUTS, pad_batch, sequence_lengths
from .checkpoints import resume, save_atomic, seal_checkpoint, writing
from .memory import backward_in_passes, batch_record, prepare_for_training
from .precision import auto_precision
from .sparse_adamw import catch_up, clip_grad_norm, make_adamw
from .tracking import PhaseLog, run_log

CHECKPOINT = "checkpoint"
BEST_WEIGHTS = "best_model.pt"


@dataclass
class TrainTask:
    """Features of one task and the head that trains on them."""

    name: str
    head: str
    features: Dataset
    batch_size: int
    transform: Callable[[dict], dict] | None = None  # per-batch step after padding, e.g. MLM masking


def epoch_batches(lengths: list[int], batch_size: int, rng: np.random.Generator, group_by_length: bool) -> list[list[int]]:
    """Shuffled batches of one epoch; with length grouping, each batch holds similar lengths
    (sorted within windows of 50 batches, then the batches shuffled) so padding stays small."""
    order = rng.permutation(len(lengths))
    if group_by_length:
        window = 50 * batch_size
        order = np.concatenate([sorted(order[i:i + window], key=lambda j: -lengths[j])
                                for i in range(0, len(order), window)]) if len(order) else order
    batches = [order[i:i + batch_size].tolist() for i in range(0, len(order), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))] if group_by_length else batches


def make_plan(tasks: list[TrainTask], step_tasks: list[str], seed: int, group_by_length: bool) -> list[tuple[str, list[int]]]:
    """(task, example indices) for every step, cycling each task's data epoch by epoch."""
    by_name = {t.name: t for t in tasks}
    streams: dict[str, list[list[int]]] = {t.name: [] for t in tasks}
    epochs = {t.name: 0 for t in tasks}
    lengths = {t.name: sequence_lengths(t.features) for t in tasks}
    plan = []
    for name in step_tasks:
        if not streams[name]:
            rng = np.random.default_rng([seed, tasks.index(by_name[name]), epochs[name]])
            streams[name] = epoch_batches(lengths[name], by_name[name].batch_size, rng, group_by_length)[::-1]
            epochs[name] += 1
        plan.append((name, streams[name].pop()))
    return plan


def steps_per_epoch(tasks: list[TrainTask]) -> int:
    return sum(math.ceil(len(t.features) / t.batch_size) for t in tasks)


def remove_checkpoints(output_dir: Path) -> None:
    """Drop the resumable checkpoint (and one a kill left half-written) once a run is finished."""
    for name in (CHECKPOINT, f"{CHECKPOINT}.partial"):
        shutil.rmtree(output_dir / name, ignore_errors=True)


def runs_on_cpu(device: str | None) -> bool:
    """Whether Accelerate must be told it is on the CPU. Without a GPU it joins the processes of torchrun /
    accelerate launch only when told so; otherwise every process would run the whole grid on its own."""
    launched = int(os.environ.get("WORLD_SIZE", "1")) > 1
    return device == "cpu" or (device is None and launched and not torch.cuda.is_available())


def make_accelerator(settings: TrainSettings, device: str | None = None, multi_head: bool = False,
                     **trackers) -> Accelerator:
    """trackers: Accelerate's log_with and project_dir (training/tracking.py:tracker_options)."""
    precision = settings.precision
    if precision == "auto":
        precision = auto_precision(device)
    if AcceleratorState._shared_state.get("_mixed_precision", precision) != precision:
        # phases of one process may differ in precision; Accelerate keeps one global state, and refuses to change it
        AcceleratorState._reset_state()
    # heads not used in a step get no gradient; DDP must be told, or multi-task steps fail (it costs a graph walk)
    unused = DistributedDataParallelKwargs(find_unused_parameters=multi_head)
    return Accelerator(mixed_precision=precision, gradient_accumulation_steps=settings.grad_accum,
                       cpu=runs_on_cpu(device), kwargs_handlers=[unused], **trackers)


def decay_groups(model, weight_decay: float) -> list[dict]:
    """AdamW parameter groups: weight decay on matrices, none on biases and layer norms."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        (no_decay if param.ndim < 2 or "LayerNorm" in name or "layer_norm" in name else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _optimizer(model, settings: TrainSettings):
    groups = decay_groups(model, settings.weight_decay)
    # fused AdamW (CPU needs torch>=2.4): 5-20% faster CPU steps, ~700 MiB less peak RSS for mE5-small
    # (benchmarks/throughput.py --optimizer-ablation, benchmarks/memory.py)
    fused = next(model.parameters()).device.type in ("cpu", "cuda")
    return make_adamw(model, groups, settings, settings.learning_rate, fused)


@dataclass
class TrainRun:
    """What one training phase is (jiant's runner parameters): its data, schedule and settings."""

    tasks: list[TrainTask]
    step_tasks: list[str]             # the task of every micro-batch, drawn up front
    settings: TrainSettings           # phase level: learning rate, warm-up, clipping, checkpoint interval
    output_dir: Path
    seed: int
    pad_token_id: int
    evaluate: Callable[[object], dict] | None = None  # model -> {"score": English dev, higher is better, ...}
    eval_every: int | None = None
    description: str = "training"
    metadata: dict = field(default_factory=dict)  # run metadata for the trackers: the phase's key and config
    log_every: int = 10


class Checkpoints:
    """A phase's resumable state (output_dir/checkpoint) and its best weights (model selection)."""

    def __init__(self, output_dir: Path, accelerator: Accelerator, scheduler):
        self.dir, self.accelerator, self.scheduler = output_dir / CHECKPOINT, accelerator, scheduler
        self.partial, self.best = output_dir / f"{CHECKPOINT}.partial", output_dir / BEST_WEIGHTS

    def resume(self) -> dict | None:
        """The state of an intact checkpoint, loaded; None when there is none (or it was damaged: restart)."""
        return resume(self.dir, self.accelerator, self.scheduler)

    def save(self, state: dict) -> None:
        # Written beside the last checkpoint, then swapped in whole: a kill mid-save must not leave
        # new weights beside an old trainer_state.json (the resumed run would silently diverge).
        # A kill between the rmtree and the rename leaves no checkpoint: the run restarts, still exact.
        main = self.accelerator.is_main_process
        if main:
            shutil.rmtree(self.partial, ignore_errors=True)
        self.accelerator.wait_for_everyone()
        with writing(self.partial):
            self.accelerator.save_state(str(self.partial))
        self.accelerator.wait_for_everyone()
        if main:
            with writing(self.partial):
                torch.save(self.scheduler.state_dict(), self.partial / "scheduler.pt")
                (self.partial / "trainer_state.json").write_text(json.dumps(state))
                seal_checkpoint(self.partial)  # its files' sizes and hashes: a damaged one is found on resume
            shutil.rmtree(self.dir, ignore_errors=True)
            self.partial.rename(self.dir)

    def save_best(self, model) -> None:
        if self.accelerator.is_main_process:
            save_atomic(model.state_dict(), self.best)

    def load_best(self, model) -> None:
        self.accelerator.wait_for_everyone()  # the main rank may still be writing the best weights
        load_weights(model, self.best)


def load_weights(model, path: Path) -> None:
    # via the CPU: load_state_dict copies onto the model's device, and torch.load rejects multi-CPU's "cpu:0"
    model.load_state_dict(torch.load(path, weights_only=True, map_location="cpu"))


def train(model, run: TrainRun, accelerator: Accelerator) -> dict:
    """Train `model` on the schedule `run.step_tasks`, checkpointing every `settings.save_every` steps and
    resuming an existing checkpoint. With `run.evaluate`, the best-scoring weights on English dev are
    restored at the end (model selection on English dev only). Progress goes to output_dir/run.log and
    the accelerator's trackers."""
    with run_log(run.output_dir):
        log = PhaseLog(accelerator, run.output_dir.name, run.description, run.metadata, run.log_every)
        state = _train(model, run, accelerator, log)
        log.close()
    return state


def _train(model, run: TrainRun, accelerator: Accelerator, log: PhaseLog) -> dict:
    settings = run.settings
    run.output_dir.mkdir(parents=True, exist_ok=True)
    set_seed(run.seed)
    plan = make_plan(run.tasks, run.step_tasks, run.seed, settings.length_grouping)
    by_name = {t.name: t for t in run.tasks}
    model_inputs = {t.name: t.features.select_columns([c for c in MODEL_INPUTS if c in t.features.column_names])
                    for t in run.tasks}
    optimizer_steps = math.ceil(len(plan) / settings.grad_accum)
    optimizer = _optimizer(model, settings)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(settings.warmup_ratio * optimizer_steps), optimizer_steps)
    dropout_masks = prepare_for_training(model, settings, accelerator.device)
    model, optimizer = accelerator.prepare(model, optimizer)
    unwrapped = accelerator.unwrap_model(model)
    checkpoints = Checkpoints(run.output_dir, accelerator, scheduler)
    state = checkpoints.resume() or {"step": 0, "losses": [], "evals": [], "best_score": None}
    state["processes"] = accelerator.num_processes  # recorded: each process takes a share of every batch
    state["precision"] = accelerator.mixed_precision  # recorded: what "auto" chose on this machine
    state["dropout_masks"] = dropout_masks  # likewise
    state["batches"] = {t.name: batch_record(t.batch_size, settings, accelerator.num_processes) for t in run.tasks}

    def run_eval():
        catch_up(optimizer)  # row-sparse embedding updates: every row current before it is read or saved
        result = run.evaluate(unwrapped)
        state["evals"].append({"step": state["step"], **result})
        log.evaluation(state["step"], result)
        if state["best_score"] is None or result["score"] > state["best_score"]:
            state["best_score"] = result["score"]
            checkpoints.save_best(unwrapped)
        model.train()

    rank, world = accelerator.process_index, accelerator.num_processes
    model.train()
    with Progress(TextColumn(f"[bold]{run.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("loss {task.fields[loss]}"),
                  TimeRemainingColumn(), transient=True, disable=not accelerator.is_main_process) as progress:
        bar = progress.add_task(run.description, total=len(plan), completed=state["step"], loss="-")
        for step in range(state["step"], len(plan)):
            name, indices = plan[step]
            task = by_name[name]
            batch = pad_batch(model_inputs[name][indices[rank::world]], run.pad_token_id)
            if task.transform:
                batch = task.transform(batch)
            with accelerator.accumulate(model):
                loss = backward_in_passes(accelerator, model, task.head, {k: v.to(accelerator.device) for k, v in batch.items()},
                                          settings.per_device_batch_size)
                if accelerator.sync_gradients:
                    clip_grad_norm(accelerator, model.parameters(), settings.max_grad_norm)
                optimizer.step()
                if accelerator.sync_gradients:
                    scheduler.step()
                optimizer.zero_grad()
            loss = loss.item()  # one device sync a step
            state["step"] = step + 1
            state["losses"].append(round(loss, 5))
            progress.update(bar, advance=1, loss=f"{loss:.3f}")
            log.step(state["step"], len(plan), loss, scheduler.get_last_lr()[0], int(batch["attention_mask"].sum()))
            if run.evaluate and run.eval_every and state["step"] % run.eval_every == 0 and state["step"] < len(plan):
                run_eval()
            if state["step"] % settings.save_every == 0 and state["step"] < len(plan):
                catch_up(optimizer)
                checkpoints.save(state)
    catch_up(optimizer)
    if run.evaluate:
        if not state["evals"] or state["evals"][-1]["step"] != len(plan):
            run_eval()
        checkpoints.load_best(unwrapped)
    return state
