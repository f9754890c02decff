"""`xstilts plan`: the cells a config would run, the steps and tokens of its training phases, and an estimate
of wall time and peak memory per phase, before anything trains.

Steps and tokens come from the English training data when it is there and the model's tokenizer loads
offline (the features are built and cached as the run would); otherwise from the official training-set
sizes below, at the maximum length (an upper bound). Wall time divides tokens by a throughput table;
a figure is "measured" when the table has the model's geometry, length and device, else "extrapolated"
by the cost of a layer (24h^2 + 4Lh per token) from the nearest measured row of that device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ..config import ExperimentConfig
from ..errors import XstiltsError
from ..tasks.registry import family_of, get_task
from ..training.memory import batch_record
from ..training.samplers import task_probabilities
from .cells import phase_settings, task_settings
from .pipeline import Pipeline
from .task_data import TaskData


@dataclass(frozen=True)
class Measured:
    """Training tokens/s of one geometry at one length on one device kind (full-length batches, the xstilts
    loop: bf16 autocast on GPUs, fp32 on the CPU, fused AdamW, no gradient checkpointing)."""

    layers: int
    hidden: int
    length: int
    device: str
    tokens_per_s: float
    source: str


THROUGHPUT = [
    # 2 CPU cores, all-MiniLM-L6 (6 x 384), fp32, processed tokens/s of the xstilts-sparse arm (int16 dropout
    # masks): SQuAD features of up to 384 tokens (2% padding) and UD English sentences (~22 tokens a row)
    Measured(6, 384, 384, "cpu", 2350, "benchmarks/results/throughput_qa_60steps.md, SQuAD"),
    Measured(6, 384, 22, "cpu", 2327, "benchmarks/results/throughput_tagging_epoch.md, UD EWT"),
    # one H200, XLM-R Large geometry, bf16, batch 32 of full-length rows, checkpointing off (gpu_check.md)
    Measured(24, 1024, 256, "h200", 126710, "benchmarks/results/gpu_check.md (H200)"),
    Measured(24, 1024, 384, "h200", 142977, "benchmarks/results/gpu_check.md (H200)"),
    Measured(24, 1024, 512, "h200", 152410, "benchmarks/results/gpu_check.md (H200)"),
    Measured(24, 1024, 256, "h100", 98768, "benchmarks/results/gpu_check_h100.md (H100)"),
    Measured(24, 1024, 384, "h100", 118519, "benchmarks/results/gpu_check_h100.md (H100)"),
    Measured(24, 1024, 512, "h100", 132408, "benchmarks/results/gpu_check_h100.md (H100)"),
]
# gpu_check's tokens/s with checkpointing off over on at lengths 256/384/512: H200 1.87, 1.48, 1.37;
# H100 1.99, 1.66, 1.48 (their mean)
CHECKPOINTING_SLOWDOWN = 1.64
EVAL_SPEEDUP = 3.0             # a forward without backward or optimizer step costs about a third of a step
DEVICE_MEMORY_GIB = {"cpu": None, "h100": 80.0, "h200": 141.0, "gpu": None}  # gpu: any other, not in the table
# Bytes per token per layer per hidden unit kept for backward: 34 in bf16 with fused attention (Korthikanti et
# al. 2022, without the attention-matrix term); with checkpointing each layer keeps its bf16 input (2) and one
# layer at a time recomputes the rest. fp32 on the CPU doubles both.
ACTIVATION_BYTES = {False: 34, True: 2}
# Geometry of hub models for machines without them: (layers, hidden, parameters).
KNOWN_MODELS = {"xlm-roberta-large": (24, 1024, 560e6), "xlm-roberta-base": (12, 768, 278e6),
                "bert-base-multilingual-cased": (12, 768, 178e6)}
# Official English training-set sizes (examples; SQuAD-format QA: questions), for plans without the data.
TRAIN_EXAMPLES = {"anli_plus": 1_104_934, "mnli": 392_702, "qqp": 363_846, "squad_v1": 87_599, "squad_v2": 130_319,
                  "hellaswag": 39_905, "cosmosqa": 25_262, "commonsenseqa": 9_741, "ccg": 38_015, "xnli": 392_702,
                  "pawsx": 49_401, "udpos": 21_253, "panx": 20_000, "xquad": 87_599, "mlqa": 87_599, "tydiqa": 3_696}
CHOICES = {"hellaswag": 4, "cosmosqa": 4, "commonsenseqa": 5}  # sequences per multiple-choice example
# Zero-shot evaluation, over all of XTREME's languages: (sequences encoded, their typical tokens). Rough
# figures: test-set sizes (retrieval: both sides), QA windows at the maximum length.
TEST_SEQUENCES = {"xnli": (75_150, 64), "pawsx": (14_000, 64), "xquad": (13_090, 384), "mlqa": (42_245, 384),
                  "tydiqa": (5_077, 384), "udpos": (80_000, 32), "panx": (250_000, 24), "tatoeba": (72_000, 24),
                  "bucc2018": (2_000_000, 40)}


@dataclass
class Phase:
    """One kind of training phase (or evaluation) with its cost per run."""

    label: str
    runs: int
    examples: int
    steps: int
    tokens: float
    length: int
    rows: int                 # sequences one device encodes per pass
    data: str                 # where examples and tokens came from
    seconds: float | None     # per run
    throughput: str           # measured / extrapolated / none
    peak_gib: float | None


def geometry(model: str) -> tuple[int, int, float] | None:
    """(layers, hidden, parameters) from the model's config when it is local or cached, else the known table."""
    from transformers import AutoConfig

    try:
        c = AutoConfig.from_pretrained(model, local_files_only=True)
    except (OSError, ValueError):
        return KNOWN_MODELS.get(Path(model).name)
    return (c.num_hidden_layers, c.hidden_size,
            c.vocab_size * c.hidden_size + c.num_hidden_layers * (4 * c.hidden_size ** 2 + 2 * c.hidden_size * c.intermediate_size))


def layer_cost(hidden: int, length: int) -> float:
    return hidden * (24 * hidden + 4 * length)


def tokens_per_second(layers: int, hidden: int, length: int, device: str) -> tuple[float | None, str]:
    rows = [m for m in THROUGHPUT if m.device == device and m.tokens_per_s > 0]
    if not rows:
        return None, f"no throughput measured on {device}"
    cost = layers * layer_cost(hidden, length)
    nearest = min(rows, key=lambda m: abs(math.log(m.layers * layer_cost(m.hidden, m.length) / cost)))
    kind = "measured" if (nearest.layers, nearest.hidden, nearest.length) == (layers, hidden, length) else (
        f"extrapolated from {nearest.layers}x{nearest.hidden} at {nearest.length}")
    return nearest.tokens_per_s * nearest.layers * layer_cost(nearest.hidden, nearest.length) / cost, kind


def peak_memory_gib(geo, rows: int, length: int, checkpointing: bool, device: str) -> float:
    layers, hidden, params = geo
    scale = 2 if device == "cpu" else 1
    per_layer = ACTIVATION_BYTES[checkpointing] * hidden * scale
    recompute = ACTIVATION_BYTES[False] * hidden * scale if checkpointing else 0  # the layer being recomputed
    return (16 * params + rows * length * (layers * per_layer + recompute)) / 2 ** 30


def train_data(data: TaskData, spec, settings, tokenizer, extra) -> tuple[int, float, str]:
    """(examples, tokens per example, source) of a task's English training data."""
    cap = data.config.max_examples.get("train")
    try:
        if tokenizer is not None:
            features = data.features(spec, "train", "en", tokenizer, settings.max_length, data.labels(spec, extra),
                                     extra=extra)
            rows = features["input_ids"]
            lengths = [sum(map(len, row)) if row and isinstance(row[0], list) else len(row) for row in rows]
            return len(rows), sum(lengths) / max(len(rows), 1), "data"
        count = len(data.examples(spec, "train", "en", extra))
        source = "data count, max-length bound"
    except XstiltsError:
        if spec.name not in TRAIN_EXAMPLES:
            raise
        count = min(TRAIN_EXAMPLES[spec.name], cap or TRAIN_EXAMPLES[spec.name])
        source = "official size, max-length bound"
    return count, settings.max_length * CHOICES.get(spec.name, 1), source


def offline_tokenizer(model: str):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(model, local_files_only=True)
    except (OSError, ValueError):
        return None


def plan(config: ExperimentConfig, device: str, done: set | None = None) -> tuple[list[Phase], dict]:
    """The phases still to run (cells in `done`, as (model, setting, seed, target), are skipped)."""
    data, done = TaskData(config), done or set()  # no results store is opened (or created)
    cells = [(m, s, seed, t) for m in config.models for s in config.intermediate for seed in config.seeds
             for t in config.targets]  # the grid's order; planned without reading data that may be absent
    todo = [(m, s, seed, t) for m, s, seed, t in cells if (m, s.name, seed, t) not in done]
    models = {m: (geometry(m), offline_tokenizer(m)) for m in config.models}
    phases: dict[tuple, Phase] = {}
    runs: dict[tuple, set] = {}  # phase key -> the (setting, seed) runs that need it

    def need(key: tuple, run: tuple, build) -> None:
        if key not in phases:
            phases[key] = build()
        runs.setdefault(key, set()).add(run)

    for model, setting, seed, target in todo:
        (geo, tokenizer), spec = models[model], get_task(target)
        if setting.tasks:
            need(("1", model, setting.name), seed, lambda: intermediate_phase(data, setting, geo, tokenizer, device))
        if family_of(spec).trains:  # targets with the same English data and settings share one fine-tune
            settings = task_settings(config, spec, config.target_training)
            english = (data.overrides(spec.name).get("train"), tuple(t.template for t in spec.sources["train"]))
            key = ("2", model, english, settings.model_dump_json())
            need(key, (setting.name, seed), lambda: target_phase(data, spec, settings, geo, tokenizer, device))
            if target not in phases[key].label.split(": ")[1].split(" + "):
                phases[key].label += f" + {target}"
        need(("eval", model, target), (setting.name, seed), lambda: evaluation(spec, config, geo, device))
    for key, phase in phases.items():
        phase.runs = len(runs[key])
    order = sorted(phases.values(), key=lambda p: p.label.split(":")[0])  # phase 1, phase 2, evaluation
    return order, {"cells": len(cells), "done": len(cells) - len(todo)}


def sequences_per_pass(spec, settings) -> int:
    """Sequences one device encodes at once (multiple choice: every choice of every example)."""
    return batch_record(settings.batch_size, settings, 1)["per_device_batch_size"] * CHOICES.get(spec.name, 1)


def training_phase(label, model_geo, device, settings, examples, steps, tokens, rows, data) -> Phase:
    """`settings` of the phase (length, checkpointing); `rows`: the most sequences one pass encodes."""
    seconds, kind, peak = None, "unknown model geometry", None
    if model_geo:
        speed, kind = tokens_per_second(model_geo[0], model_geo[1], settings.max_length, device)
        slowdown = CHECKPOINTING_SLOWDOWN if settings.gradient_checkpointing else 1.0
        seconds = tokens / speed * slowdown if speed else None
        peak = peak_memory_gib(model_geo, rows, settings.max_length, settings.gradient_checkpointing, device)
    return Phase(label, 0, examples, steps, tokens, settings.max_length, rows, data, seconds, kind, peak)


def intermediate_phase(data: TaskData, setting, geo, tokenizer, device) -> Phase:
    specs = [get_task(t) for t in setting.tasks]
    settings = {s.name: task_settings(data.config, s, data.config.intermediate_training) for s in specs}
    stats = {s.name: train_data(data, s, settings[s.name], tokenizer, setting.data) for s in specs}
    phase = phase_settings(settings, data.config.intermediate_training)
    per_epoch = sum(math.ceil(stats[n][0] / settings[n].batch_size) for n in stats)
    steps = phase.max_steps or int(round(phase.epochs * per_epoch))
    mix = task_probabilities({n: stats[n][0] for n in stats}, setting.sampler, setting.sampler_cap, setting.temperature)
    tokens = steps * sum(p * settings[n].batch_size * stats[n][1] for n, p in mix.items())
    examples = sum(stats[n][0] for n in stats)
    sources = ", ".join(sorted({stats[n][2] for n in stats}) + (["MLM not counted"] if setting.mlm_files else []))
    rows = max(sequences_per_pass(s, settings[s.name]) for s in specs)
    longest = phase.model_copy(update={"max_length": max(st.max_length for st in settings.values())})
    return training_phase(f"1: {setting.name}", geo, device, longest, examples, steps, tokens, rows, sources)


def target_phase(data: TaskData, spec, settings, geo, tokenizer, device) -> Phase:
    examples, per_example, source = train_data(data, spec, settings, tokenizer, None)
    steps = settings.max_steps or int(round(settings.epochs * math.ceil(examples / settings.batch_size)))
    tokens = steps * settings.batch_size * per_example
    return training_phase(f"2: {spec.name}", geo, device, settings, examples, steps, tokens,
                          sequences_per_pass(spec, settings), source)


def evaluation(spec, config: ExperimentConfig, geo, device) -> Phase:
    length = task_settings(config, spec, config.target_training).max_length if family_of(spec).trains \
        else config.retrieval.max_length
    sequences, typical = TEST_SEQUENCES.get(spec.name, (0, 0))
    tokens = sequences * min(typical, length)
    speed, kind = tokens_per_second(geo[0], geo[1], length, device) if geo else (None, "unknown model geometry")
    seconds = tokens / (speed * EVAL_SPEEDUP) if speed and sequences else None
    return Phase(f"eval: {spec.name}", 0, sequences, 0, tokens, length, 0, "approximate test size", seconds, kind, None)


def this_device() -> str:
    import torch

    if not torch.cuda.is_available():
        return "cpu"
    name = torch.cuda.get_device_name().lower()
    return next((kind for kind in DEVICE_MEMORY_GIB if kind in name), "gpu")


def finished_cells(config: ExperimentConfig) -> tuple[set, str]:
    """Cells already in the results store, and a note when they could not be checked."""
    if not (config.output_dir / "results.db").exists():
        return set(), ""
    from .executors import finished

    try:
        return finished(Pipeline(config)), ""
    except XstiltsError as err:  # a cell's key hashes its data files
        return set(), f" (finished cells not checked: {err})"


def hours(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 3600:.2f}"


def print_plan(config: ExperimentConfig, console: Console, device: str | None = None) -> None:
    device = device or this_device()
    if device not in DEVICE_MEMORY_GIB:
        raise XstiltsError(f"unknown device kind {device!r}; valid choices: {', '.join(DEVICE_MEMORY_GIB)}")
    done, note = finished_cells(config)
    phases, cells = plan(config, device, done)
    memory = DEVICE_MEMORY_GIB[device]
    table = Table(title=f"plan for {config.name} on {device}")
    for column in ("phase", "runs", "examples", "steps", "tokens", "length", "rows/pass", "h/run", "h total",
                   "peak GiB", "throughput", "data"):
        table.add_column(column)
    total = 0.0
    for p in phases:
        run_total = None if p.seconds is None else p.seconds * p.runs
        total += run_total or 0.0
        peak = "-" if p.peak_gib is None else f"{p.peak_gib:.1f}" + (" [red]> device[/]" if memory and p.peak_gib > memory else "")
        table.add_row(p.label, str(p.runs), f"{p.examples:,}", f"{p.steps:,}", f"{p.tokens:.3g}", str(p.length),
                      str(p.rows or "-"), hours(p.seconds), hours(run_total), peak, p.throughput, p.data)
    console.print(table)
    unknown = sum(1 for p in phases if p.seconds is None)
    estimate = (f"estimated {total / 3600:.1f} {device}-hours" if not unknown else
                f"{unknown} of {len(phases)} phase kinds not estimated; {total / 3600:.1f} {device}-hours for the others")
    console.print(f"cells: {cells['cells']} in the grid, {cells['done']} done, {cells['cells'] - cells['done']} to run; "
                  f"{estimate}{note}")
    for p in phases:
        if memory and p.peak_gib and p.peak_gib > memory:
            console.print(f"[yellow]warning:[/] {p.label} needs about {p.peak_gib:.0f} GiB, more than the {memory:.0f} GiB "
                          "of the device: set per_device_batch_size or gradient_checkpointing")
