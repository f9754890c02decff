"""One training loop for every phase: single- or multi-task, on Accelerate.

The whole batch schedule is drawn from the seed before the first step, so a run resumed from
a checkpoint replays exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs, set_seed
from datasets import Dataset
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from transformers import get_linear_schedule_with_warmup

from ..config import TrainSettings
from ..data.features import MODEL_INPUTS, pad_batch, sequence_lengths
from .memory import auto_precision, backward_in_passes, batch_record, prepare_for_training

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


def make_accelerator(settings: TrainSettings, device: str | None = None, multi_head: bool = False) -> Accelerator:
    precision = settings.precision
    if precision == "auto":
        precision = auto_precision() if device != "cpu" else "no"
    # heads not used in a step get no gradient; DDP must be told, or multi-task steps fail (it costs a graph walk)
    unused = DistributedDataParallelKwargs(find_unused_parameters=multi_head)
    return Accelerator(mixed_precision=precision, gradient_accumulation_steps=settings.grad_accum,
                       cpu=runs_on_cpu(device), kwargs_handlers=[unused])


def _optimizer(model, settings: TrainSettings, learning_rate: float):
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        (no_decay if param.ndim < 2 or "LayerNorm" in name or "layer_norm" in name else decay).append(param)
    groups = [{"params": decay, "weight_decay": settings.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    # fused AdamW (CPU needs torch>=2.4): 5-20% faster CPU steps, ~700 MiB less peak RSS for mE5-small
    # (benchmarks/throughput.py --optimizer-ablation, benchmarks/memory.py)
    fused = next(model.parameters()).device.type in ("cpu", "cuda")
    return torch.optim.AdamW(groups, lr=learning_rate, fused=True if fused else None)


def train(model, tasks: list[TrainTask], step_tasks: list[str], settings: TrainSettings, learning_rate: float,
          output_dir: Path, seed: int, pad_token_id: int, accelerator: Accelerator,
          evaluate: Callable[[object], float] | None = None, eval_every: int | None = None,
          description: str = "training") -> dict:
    """Train `model` on the schedule `step_tasks` (one task name per micro-batch).

    evaluate(model) -> score on English dev (higher is better); the best-scoring weights are
    restored at the end (model selection on English dev only). Checkpoints every
    `settings.save_every` steps under output_dir/checkpoint; an existing one is resumed.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    set_seed(seed)
    plan = make_plan(tasks, step_tasks, seed, settings.length_grouping)
    by_name = {t.name: t for t in tasks}
    optimizer_steps = math.ceil(len(plan) / settings.grad_accum)
    optimizer = _optimizer(model, settings, learning_rate)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(settings.warmup_ratio * optimizer_steps), optimizer_steps)
    prepare_for_training(model, settings)
    model, optimizer = accelerator.prepare(model, optimizer)
    unwrapped = accelerator.unwrap_model(model)

    state = {"step": 0, "losses": [], "evals": [], "best_score": None}
    checkpoint = output_dir / CHECKPOINT
    if (checkpoint / "trainer_state.json").exists():
        accelerator.load_state(str(checkpoint))
        scheduler.load_state_dict(torch.load(checkpoint / "scheduler.pt", weights_only=True))
        state = json.loads((checkpoint / "trainer_state.json").read_text())
    state["processes"] = accelerator.num_processes  # recorded: each process takes a share of every batch
    state["batches"] = {t.name: batch_record(t.batch_size, settings, accelerator.num_processes) for t in tasks}
    state["precision"] = accelerator.mixed_precision

    def save_checkpoint():
        # Written beside the last checkpoint, then swapped in whole: a kill mid-save must not leave
        # new weights beside an old trainer_state.json (the resumed run would silently diverge).
        # A kill between the rmtree and the rename leaves no checkpoint: the run restarts, still exact.
        partial = output_dir / f"{CHECKPOINT}.partial"
        if accelerator.is_main_process:
            shutil.rmtree(partial, ignore_errors=True)
        accelerator.wait_for_everyone()
        accelerator.save_state(str(partial))
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            torch.save(scheduler.state_dict(), partial / "scheduler.pt")
            (partial / "trainer_state.json").write_text(json.dumps(state))
            shutil.rmtree(checkpoint, ignore_errors=True)
            partial.rename(checkpoint)

    def run_eval():
        score = evaluate(unwrapped)
        state["evals"].append({"step": state["step"], "score": score})
        if state["best_score"] is None or score > state["best_score"]:
            state["best_score"] = score
            if accelerator.is_main_process:
                torch.save(unwrapped.state_dict(), output_dir / BEST_WEIGHTS)
        model.train()

    rank, world = accelerator.process_index, accelerator.num_processes
    model.train()
    with Progress(TextColumn(f"[bold]{description}"), BarColumn(), MofNCompleteColumn(), TextColumn("loss {task.fields[loss]}"),
                  TimeRemainingColumn(), transient=True, disable=not accelerator.is_main_process) as progress:
        bar = progress.add_task(description, total=len(plan), completed=state["step"], loss="-")
        for step in range(state["step"], len(plan)):
            name, indices = plan[step]
            task = by_name[name]
            rows = task.features.select_columns([c for c in MODEL_INPUTS if c in task.features.column_names])
            batch = pad_batch(rows[indices[rank::world]], pad_token_id)
            if task.transform:
                batch = task.transform(batch)
            with accelerator.accumulate(model):
                loss = backward_in_passes(accelerator, model, task.head, {k: v.to(accelerator.device) for k, v in batch.items()},
                                          settings.per_device_batch_size)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(model.parameters(), settings.max_grad_norm)
                optimizer.step()
                if accelerator.sync_gradients:
                    scheduler.step()
                optimizer.zero_grad()
            state["step"] = step + 1
            state["losses"].append(round(loss.item(), 5))
            progress.update(bar, advance=1, loss=f"{loss.item():.3f}")
            if evaluate and eval_every and state["step"] % eval_every == 0 and state["step"] < len(plan):
                run_eval()
            if state["step"] % settings.save_every == 0 and state["step"] < len(plan):
                save_checkpoint()
    if evaluate:
        if not state["evals"] or state["evals"][-1]["step"] != len(plan):
            run_eval()
        accelerator.wait_for_everyone()  # the main rank may still be writing the best weights
        # via the CPU: load_state_dict copies onto the model's device, and torch.load rejects multi-CPU's "cpu:0"
        unwrapped.load_state_dict(torch.load(output_dir / BEST_WEIGHTS, weights_only=True, map_location="cpu"))
    return state
