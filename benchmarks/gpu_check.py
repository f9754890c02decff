"""GPU check for paper scale: XLM-R Large's training/evaluation speed and memory, and xstilts' loop vs HF Trainer.

Self-contained: needs only torch, transformers (with accelerate, for Trainer) and a tokenizer directory
(tokenizer.json + tokenizer_config.json; XLM-R's vocabulary, e.g. the one `xstilts models import` writes for
multilingual-e5-small). It does not import xstilts, so it runs on a bare GPU machine with no network.

The encoder has XLM-R Large's configuration (24 layers, hidden 1024, 16 heads, FFN 4096, vocabulary 250002),
randomly initialised (throughput and memory do not depend on the weights), with a sequence-classification
head. Training runs in bf16 autocast over fp32 weights with fused AdamW, as xstilts' Accelerate loop does.
Measured, each under its own time cap and a total budget (a measurement that would overrun is skipped):

1. training tokens/s at lengths 256/384/512, full-length batches, with and without gradient checkpointing,
   and the peak GPU memory of each;
2. evaluation sequences/s (no_grad, bf16 autocast) at each length;
3. the same epoch of variable-length data (synthetic token sequences of the real tokenizer's subwords: a
   quarter at the full length, the rest uniform between 1/8 and all of it) trained by a loop equivalent to
   xstilts' (per-batch padding, length-grouped batches, fused AdamW, bf16 autocast, grad-norm clipping, linear
   warm-up schedule, one loss.item() per step) and by HF Trainer's strongest configuration for this data
   (per-batch padding via DataCollatorWithPadding, group-by-length sampling, adamw_torch_fused, bf16): the
   ratio of their tokens/s;
4. the largest batch that fits at the longest length, with and without checkpointing (doubling search).

The Markdown report (--out) is rewritten after every measurement, so a timeout still leaves numbers; its last
block is the raw records as JSON, for xstilts' plan throughput table.

    python benchmarks/gpu_check.py --tokenizer tok/ --out benchmarks/results/gpu_check.md     # < 7 min, 1 H100
    python benchmarks/gpu_check.py --tiny --tokenizer ~/.cache/xstilts/models/multilingual-e5-small \
        --out /tmp/gpu_check_tiny.md                                                            # < 60 s on CPU
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import gc
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import transformers
from transformers import (AutoTokenizer, DataCollatorWithPadding, Trainer, TrainingArguments, XLMRobertaConfig,
                          XLMRobertaForSequenceClassification, get_linear_schedule_with_warmup)

XLMR_LARGE = dict(num_hidden_layers=24, hidden_size=1024, num_attention_heads=16, intermediate_size=4096,
                  vocab_size=250002, max_position_embeddings=514, type_vocab_size=1, layer_norm_eps=1e-5)
# token ids are taken modulo the vocabulary: a small one keeps the tiny model's optimizer step cheap
TINY = dict(num_hidden_layers=2, hidden_size=64, num_attention_heads=2, intermediate_size=128, vocab_size=1024,
            max_position_embeddings=130, type_vocab_size=1, layer_norm_eps=1e-5)

# Time caps in seconds. "full" sums to about 4.5 min of measurement on an H100 (6 min at most), plus start-up.
PROFILES = {
    "full": dict(model=XLMR_LARGE, lengths=(256, 384, 512), batch=32, eval_batch=128, train_cap=12, eval_cap=5,
                 compare_length=256, compare_seconds=30, search_start=16, search_max=2048, search_cap=40, budget=360),
    "tiny": dict(model=TINY, lengths=(32, 48, 64), batch=4, eval_batch=16, train_cap=1, eval_cap=0.5,
                 compare_length=48, compare_seconds=2, search_start=4, search_max=32, search_cap=2, budget=30),
}
LEARNING_RATE = 1e-5
SAMPLE_TEXT = (
    "The X-STILTs recipe trains a multilingual encoder on an English intermediate task before fine-tuning it "
    "on each target task, then evaluates zero-shot in every language. "
    "Der Fluss fließt durch die Stadt, und am Ufer stehen alte Häuser mit roten Dächern. "
    "El museo abre a las diez de la mañana y cierra después de la puesta del sol. "
    "Москва является столицей России и крупнейшим городом страны. "
    "北京是中华人民共和国的首都，也是全国的政治和文化中心。 "
    "पुस्तकालय में हजारों किताबें हैं और छात्र वहाँ पढ़ने आते हैं। "
    "السماء صافية اليوم والشمس مشرقة فوق البحر. "
)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


class Report:
    """Sections of rows, rewritten to Markdown after every measurement."""

    def __init__(self, path: Path, header: list[str]):
        self.path, self.header, self.sections, self.records = path, header, {}, []

    def add(self, section: str, columns: list[str], record: dict) -> None:
        self.sections.setdefault(section, (columns, []))[1].append(record)
        self.records.append({"section": section, **record})
        self.write()

    def write(self) -> None:
        lines = list(self.header)
        for title, (columns, rows) in self.sections.items():
            lines += ["", f"## {title}", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
            lines += ["| " + " | ".join(_cell(row.get(c)) for c in columns) + " |" for row in rows]
        lines += ["", "## Raw records", "", "```json", json.dumps(self.records, indent=1), "```", ""]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("\n".join(lines))


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"
    return str(value)


class Clock:
    """The total budget: each measurement gets its cap or what is left, whichever is smaller."""

    def __init__(self, budget: float):
        self.deadline = time.perf_counter() + budget

    def cap(self, wanted: float) -> float:
        return min(wanted, self.deadline - time.perf_counter())


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def peak_gib(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None


def reset_peak(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def build_model(config: XLMRobertaConfig, device: torch.device) -> XLMRobertaForSequenceClassification:
    torch.manual_seed(0)
    with device:  # initialised on the GPU directly: seconds instead of a minute on the CPU
        return XLMRobertaForSequenceClassification(config)


def make_optimizer(model) -> torch.optim.AdamW:
    """xstilts' optimizer: no weight decay on biases and LayerNorm, fused AdamW."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        (no_decay if param.ndim < 2 or "LayerNorm" in name else decay).append(param)
    return torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                             lr=LEARNING_RATE, fused=True)


def train_step(model, optimizer, batch: dict, scheduler=None) -> float:
    """One step of xstilts' loop on one device: autocast forward, backward, clip, step, one loss.item()."""
    with torch.autocast(batch["input_ids"].device.type, dtype=torch.bfloat16):
        loss = model(**batch).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    if scheduler is not None:
        scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.item()


def full_batch(batch: int, length: int, vocab: int, device: torch.device) -> dict:
    generator = torch.Generator().manual_seed(length)
    return {"input_ids": torch.randint(5, vocab, (batch, length), generator=generator).to(device),
            "attention_mask": torch.ones(batch, length, dtype=torch.long, device=device),
            "labels": torch.randint(0, 2, (batch,), generator=generator).to(device)}


def set_checkpointing(model, on: bool) -> None:
    # transformers 5.2x renamed gradient_checkpointing_* to activation_checkpointing_*; older 5.x have only the former
    if hasattr(model, "activation_checkpointing_enable"):
        enable, disable = model.activation_checkpointing_enable, model.activation_checkpointing_disable
    else:
        enable, disable = model.gradient_checkpointing_enable, model.gradient_checkpointing_disable
    enable({"use_reentrant": False}) if on else disable()


def timed_steps(step, cap: float, device: torch.device, warmup: int = 2, min_steps: int = 3) -> tuple[int, float]:
    """Run `step` `warmup` times untimed, then until `cap` seconds have passed (at least `min_steps` times)."""
    for _ in range(warmup):
        step()
    sync(device)
    start, steps = time.perf_counter(), 0
    while steps < min_steps or time.perf_counter() - start < cap:
        step()
        steps += 1
    sync(device)
    return steps, time.perf_counter() - start


def is_oom(err: BaseException) -> bool:
    return isinstance(err, torch.OutOfMemoryError) or "out of memory" in str(err).lower()


def measure_training(model, optimizer, profile: dict, clock: Clock, report: Report, device, vocab: int) -> dict:
    """Tokens/s at full-length batches; halves the batch on OOM. Returns {length: seconds per step} without
    checkpointing, at the profile's batch."""
    columns = ["length", "checkpointing", "batch", "steps", "tokens/s", "step s", "peak GiB"]
    step_seconds = {}
    for checkpointing in (False, True):
        set_checkpointing(model, checkpointing)
        for length in profile["lengths"]:
            cap = clock.cap(profile["train_cap"])
            row = {"length": length, "checkpointing": "on" if checkpointing else "off"}
            if cap < profile["train_cap"] / 2:
                report.add("Training throughput", columns, {**row, "steps": "skipped (time budget)"})
                continue
            batch_size = profile["batch"]
            while batch_size:
                reset_peak(device)
                batch = full_batch(batch_size, length, vocab, device)
                try:
                    steps, seconds = timed_steps(lambda: train_step(model, optimizer, batch), cap, device)
                    break
                except RuntimeError as err:
                    if not is_oom(err):
                        raise
                    optimizer.zero_grad(set_to_none=True)
                    del batch
                    batch_size //= 2
            if not batch_size:
                report.add("Training throughput", columns, {**row, "steps": "out of memory at batch 1"})
                continue
            tokens_per_s = steps * batch_size * length / seconds
            if not checkpointing and batch_size == profile["batch"]:
                step_seconds[length] = seconds / steps
            report.add("Training throughput", columns, {**row, "batch": batch_size, "steps": steps,
                       "tokens/s": tokens_per_s, "step s": seconds / steps, "peak GiB": peak_gib(device)})
            log(f"train L={length} checkpointing={checkpointing} batch={batch_size}: {tokens_per_s:,.0f} tokens/s")
    set_checkpointing(model, False)
    return step_seconds


@torch.no_grad()
def measure_evaluation(model, profile: dict, clock: Clock, report: Report, device, vocab: int) -> None:
    columns = ["length", "batch", "batches", "sequences/s", "peak GiB"]
    model.eval()
    for length in profile["lengths"]:
        cap = clock.cap(profile["eval_cap"])
        if cap < profile["eval_cap"] / 2:
            report.add("Evaluation throughput", columns, {"length": length, "batches": "skipped (time budget)"})
            continue
        reset_peak(device)
        batch = full_batch(profile["eval_batch"], length, vocab, device)
        del batch["labels"]

        def forward():
            with torch.autocast(device.type, dtype=torch.bfloat16):
                model(**batch).logits.float().cpu()  # predictions leave the GPU, as in xstilts' evaluation

        steps, seconds = timed_steps(forward, cap, device)
        per_s = steps * profile["eval_batch"] / seconds
        report.add("Evaluation throughput", columns, {"length": length, "batch": profile["eval_batch"],
                   "batches": steps, "sequences/s": per_s, "peak GiB": peak_gib(device)})
        log(f"eval L={length}: {per_s:,.0f} sequences/s")
    model.train()


def make_examples(tokenizer, count: int, length: int, seed: int, vocab: int) -> list[dict]:
    """Variable-length classification examples made of real subwords of the tokenizer (see the docstring)."""
    text_ids = [i % vocab for i in tokenizer(SAMPLE_TEXT, add_special_tokens=False)["input_ids"]]
    text_ids = text_ids * (length // len(text_ids) + 2)
    rng = np.random.default_rng(seed)
    examples = []
    for _ in range(count):
        size = length if rng.random() < 0.25 else int(rng.integers(length // 8, length + 1))
        start = int(rng.integers(0, len(text_ids) - size))
        ids = [tokenizer.cls_token_id] + text_ids[start:start + size - 2] + [tokenizer.sep_token_id]
        examples.append({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": int(rng.integers(0, 2))})
    return examples


def grouped_batches(lengths: list[int], batch_size: int, seed: int) -> list[list[int]]:
    """xstilts' epoch_batches with length grouping: sorted within windows of 50 batches, batches shuffled."""
    rng = np.random.default_rng(seed)
    order, window = rng.permutation(len(lengths)), 50 * batch_size
    order = np.concatenate([sorted(order[i:i + window], key=lambda j: -lengths[j]) for i in range(0, len(order), window)])
    batches = [order[i:i + batch_size].tolist() for i in range(0, len(order), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def pad(rows: list[dict], pad_id: int, device) -> dict:
    width = max(len(r["input_ids"]) for r in rows)
    return {"input_ids": torch.tensor([r["input_ids"] + [pad_id] * (width - len(r["input_ids"])) for r in rows]).to(device),
            "attention_mask": torch.tensor([r["attention_mask"] + [0] * (width - len(r["input_ids"])) for r in rows]).to(device),
            "labels": torch.tensor([r["labels"] for r in rows]).to(device)}


def run_loop(config, examples: list[dict], batch_size: int, pad_id: int, device) -> float:
    model = build_model(config, device)
    model.train()
    optimizer = make_optimizer(model)
    batches = grouped_batches([len(e["input_ids"]) for e in examples], batch_size, seed=0)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(0.1 * len(batches)), len(batches))
    sync(device)
    start = time.perf_counter()
    for indices in batches:
        train_step(model, optimizer, pad([examples[i] for i in indices], pad_id, device), scheduler)
    sync(device)
    return time.perf_counter() - start


def run_trainer(config, examples: list[dict], batch_size: int, tokenizer, device) -> float:
    model = build_model(config, device)
    fields = {f.name for f in dataclasses.fields(TrainingArguments)}
    # transformers >= 5.x names the sampler; older 5.x releases have the group_by_length flag
    grouping = ({"train_sampling_strategy": "group_by_length"} if "train_sampling_strategy" in fields
                else {"group_by_length": True})
    steps = -(-len(examples) // batch_size)
    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(output_dir=tmp, per_device_train_batch_size=batch_size, num_train_epochs=1,
                                 learning_rate=LEARNING_RATE, weight_decay=0.01, warmup_steps=int(0.1 * steps),
                                 max_grad_norm=1.0, bf16=True, optim="adamw_torch_fused", use_cpu=device.type == "cpu",
                                 save_strategy="no", eval_strategy="no", logging_strategy="no", report_to="none",
                                 disable_tqdm=True, seed=0, **grouping)
        trainer = Trainer(model=model, args=args, train_dataset=examples,
                          data_collator=DataCollatorWithPadding(tokenizer), processing_class=tokenizer)
        sync(device)
        start = time.perf_counter()
        trainer.train()
        sync(device)
        return time.perf_counter() - start


def compare_trainer(config, tokenizer, profile: dict, step_seconds: dict, clock: Clock, report: Report, device) -> None:
    """One epoch of the same examples through both; sized from the measured step time to take compare_seconds."""
    columns = ["arm", "length", "batch", "examples", "seconds", "real tokens/s", "vs HF Trainer"]
    length, batch_size = profile["compare_length"], profile["batch"]
    seconds = clock.cap(profile["compare_seconds"] * 2.5) / 2.5  # two arms plus set-up
    if seconds < profile["compare_seconds"] / 3:
        report.add("xstilts loop vs HF Trainer", columns, {"arm": "skipped (time budget)"})
        return
    # a full-length step bounds a variable-length one; 1 s is a guess for when the training run was skipped
    count = max(10, round(seconds / step_seconds.get(length, 1.0))) * batch_size
    examples = make_examples(tokenizer, count, length, seed=1, vocab=config.vocab_size)
    real = sum(len(e["input_ids"]) for e in examples)
    times = {}
    for arm, run in (("HF Trainer", lambda: run_trainer(config, examples, batch_size, tokenizer, device)),
                     ("xstilts loop", lambda: run_loop(config, examples, batch_size, tokenizer.pad_token_id, device))):
        reset_peak(device)
        times[arm] = run()
        log(f"{arm}: {count} examples in {times[arm]:.1f} s")
    for arm, took in times.items():
        report.add("xstilts loop vs HF Trainer", columns, {"arm": arm, "length": length, "batch": batch_size,
                   "examples": count, "seconds": took, "real tokens/s": real / took,
                   "vs HF Trainer": f"{times['HF Trainer'] / took:.2f}x"})


def search_batch(model, optimizer, profile: dict, clock: Clock, report: Report, device, vocab: int) -> None:
    """Doubling search for the largest full-length batch one training step fits, at the longest length."""
    columns = ["length", "checkpointing", "largest batch that fits", "stopped by", "peak GiB at largest"]
    length = max(profile["lengths"])
    for checkpointing in (False, True):
        set_checkpointing(model, checkpointing)
        cap = clock.cap(profile["search_cap"])
        if cap < profile["search_cap"] / 2:
            report.add("Largest batch", columns, {"length": length, "checkpointing": "on" if checkpointing else "off",
                                                  "stopped by": "skipped (time budget)"})
            continue
        deadline = time.perf_counter() + cap
        batch_size, fits, peak, stopped, last_step = profile["search_start"], None, None, "search_max", 0.0
        while batch_size <= profile["search_max"]:
            if time.perf_counter() + 2.5 * last_step > deadline:  # the next, doubled step would overrun
                stopped = "time cap"
                break
            reset_peak(device)
            try:
                batch = full_batch(batch_size, length, vocab, device)
                start = time.perf_counter()
                train_step(model, optimizer, batch)
                sync(device)
                last_step = time.perf_counter() - start
            except RuntimeError as err:
                if not is_oom(err):
                    raise
                stopped = f"out of memory at {batch_size}"
                break
            finally:
                batch = None
                optimizer.zero_grad(set_to_none=True)
            fits, peak = batch_size, peak_gib(device)
            log(f"search L={length} checkpointing={checkpointing}: batch {batch_size} fits")
            batch_size *= 2
        report.add("Largest batch", columns, {"length": length, "checkpointing": "on" if checkpointing else "off",
                   "largest batch that fits": fits, "stopped by": stopped, "peak GiB at largest": peak})
    set_checkpointing(model, False)
    reset_peak(device)


def environment(device: torch.device, config, profile_name: str, budget: float) -> list[str]:
    gpu = (f"{torch.cuda.get_device_name()} ({torch.cuda.get_device_properties(0).total_memory / 2**30:.0f} GiB)"
           if device.type == "cuda" else f"CPU ({platform.processor() or platform.machine()}, "
           f"{torch.get_num_threads()} threads)")
    return [f"# gpu_check ({profile_name})", "",
            f"- {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; command: `python {' '.join(sys.argv)}`",
            f"- device: {gpu}; torch {torch.__version__}, transformers {transformers.__version__}, "
            f"Python {platform.python_version()}",
            f"- encoder: {config.num_hidden_layers} layers, hidden {config.hidden_size}, {config.num_attention_heads} "
            f"heads, FFN {config.intermediate_size}, vocabulary {config.vocab_size}, random init, attention "
            f"{config._attn_implementation}; bf16 autocast over fp32 weights, fused AdamW; budget {budget:.0f} s",
            "- tokens/s count every token of full-length batches; peak GiB is torch.cuda.max_memory_allocated"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokenizer", required=True, type=Path, help="directory with tokenizer.json (XLM-R vocabulary)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/gpu_check.md"))
    parser.add_argument("--tiny", action="store_true", help="a 2-layer encoder at short lengths (CPU, < 60 s)")
    parser.add_argument("--budget", type=float, help="total seconds for the measurements (default: the profile's)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    profile = dict(PROFILES["tiny" if args.tiny else "full"])
    budget = args.budget or profile["budget"]
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if args.tiny and device.type == "cpu":
        torch.set_num_threads(1)  # a tiny model's steps are ~20x slower when two threads contend for busy cores
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        sys.exit("gpu_check: this GPU has no bf16; the check measures the bf16 path only")
    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    config = XLMRobertaConfig(**profile["model"], num_labels=2, pad_token_id=tokenizer.pad_token_id)
    vocab = config.vocab_size
    log(f"{device}: building the encoder ({config.num_hidden_layers} layers, hidden {config.hidden_size})")
    clock = Clock(budget)
    model = build_model(config, device)
    report = Report(args.out, environment(device, model.config, "tiny" if args.tiny else "XLM-R Large", budget))
    report.write()
    model.train()
    optimizer = make_optimizer(model)
    step_seconds = measure_training(model, optimizer, profile, clock, report, device, vocab)
    measure_evaluation(model, profile, clock, report, device, vocab)
    del model, optimizer
    reset_peak(device)
    compare_trainer(config, tokenizer, profile, step_seconds, clock, report, device)
    model = build_model(config, device)
    model.train()
    search_batch(model, make_optimizer(model), profile, clock, report, device, vocab)
    report.header.append(f"- total wall time {time.perf_counter() - started:.0f} s")
    report.write()
    log(f"wrote {args.out} ({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
