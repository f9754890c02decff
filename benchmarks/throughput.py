"""Training throughput: the HF Trainer, as the example scripts run it and at its best, vs the xstilts loop.

Arms (same model, examples' token ids and labels, optimizer steps, batch size, lr, linear schedule with
10% warmup, weight decay 0.01, grad-norm clip 1.0, seed, precision; fused AdamW everywhere):
  hf              transformers.Trainer + AutoModelFor{QuestionAnswering,TokenClassification}, features padded
                  to max length as run_qa.py does by default, default collator, random sampler.
  hf-best         the Trainer as a competent user runs it: unpadded features, per-batch padding with HF's
                  collators (DataCollatorWithPadding / DataCollatorForTokenClassification),
                  train_sampling_strategy="group_by_length" (transformers 5's LengthGroupedSampler).
                  Ratios are against this arm.
  xstilts         xstilts.training.loop.train on MultiTaskModel, Arrow-cached features, dynamic padding,
                  length grouping (windows of 50 batches), dropout_masks: auto (int16 masks and the blocked
                  attention-dropout function on a CPU: the recipe's dropout, drawn cheaply).
  xstilts-torchmasks  the same with dropout_masks: torch (torch's dropout, as the HF arms run it).
  xstilts-sparse  the same with embedding_optimizer: sparse (row-sparse AdamW, equal to dense AdamW).
  xstilts-frozen  the same with freeze_embeddings: true (a different recipe; its dev metric says how much).
  xstilts-nodropout  the same with dropout: 0 (no dropout random numbers; a different recipe, recorded).

The training pool has max(steps, 200) x batch examples, so HF's length grouping uses its default window
of 50 batches (it shrinks it on fewer than 200 batches of data), equal to xstilts'; every arm draws its
steps x batch examples from that pool in its own order.
QA trains on SQuAD v1.1 *dev* questions (the train file is not on this machine) at max length 384
and is scored (F1) on 200 questions from held-out articles; tagging trains on UD English-EWT train
at max length 256 and is scored (word-level UPOS accuracy) on 200 EWT dev sentences. All arms are
scored by the same dynamic-padding inference code, so only training differs.

Repetitions alternate the arm order so background load hits every arm; the load average is printed per
run; the dev metric is computed on the first repetition (runs are seeded and repeat the same work).
Throughput counts only the train() / trainer.train() call (model loading and data prep excluded).

    python benchmarks/throughput.py --task both --steps 20 --batch-size 16 --reps 2
    python benchmarks/throughput.py --model multilingual-e5-small --arms hf-best,xstilts,xstilts-sparse,xstilts-frozen
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, Report, resolve_model, spread, table  # noqa: E402

MAX_LEN = {"qa": 384, "tagging": 256}
GROUPING_WINDOW = 50  # batches per length-sorted window: xstilts' epoch_batches and HF's default mega_batch_mult


# ----------------------------------------------------------------------------------------- data
def split_squad(n_train: int, n_dev: int, seed: int):
    """Train pool and dev questions from SQuAD v1.1 dev, split by article (no shared contexts)."""
    from xstilts.data.readers import read_squad_json

    examples = read_squad_json(DATA / "squad" / "dev-v1.1.json")
    titles = sorted({e.title for e in examples})
    random.Random(seed).shuffle(titles)
    dev_titles, count = set(), 0
    for t in titles:
        if count >= n_dev:
            break
        dev_titles.add(t)
        count += sum(e.title == t for e in examples)
    rng = random.Random(seed + 1)
    dev = rng.sample([e for e in examples if e.title in dev_titles], n_dev)
    pool = [e for e in examples if e.title not in dev_titles]
    return rng.sample(pool, min(n_train, len(pool))), dev


def split_ewt(n_train: int, n_dev: int, seed: int):
    from xstilts.data.readers import read_conllu

    train = read_conllu(DATA / "ud" / "English-EWT" / "en_ewt-ud-train.conllu")
    dev = read_conllu(DATA / "ud" / "English-EWT" / "en_ewt-ud-dev.conllu")
    rng = random.Random(seed)
    return rng.sample(train, min(n_train, len(train))), rng.sample(dev, min(n_dev, len(dev)))


def hf_qa_features(examples, tokenizer, max_length: int, padding: str | bool = "max_length", stride: int = 128) -> dict:
    """run_qa.py's prepare_train_features; padding="max_length" is the script's default (pad_to_max_length)."""
    pad_on_right = tokenizer.padding_side == "right"
    enc = tokenizer([e.question.lstrip() for e in examples] if pad_on_right else [e.context for e in examples],
                    [e.context for e in examples] if pad_on_right else [e.question.lstrip() for e in examples],
                    truncation="only_second" if pad_on_right else "only_first", max_length=max_length,
                    stride=stride, return_overflowing_tokens=True, return_offsets_mapping=True,
                    padding=padding)
    sample_mapping = enc.pop("overflow_to_sample_mapping")
    offset_mapping = enc.pop("offset_mapping")
    cols = {k: list(v) for k, v in enc.items()}
    cols["start_positions"], cols["end_positions"] = [], []
    for i, offsets in enumerate(offset_mapping):
        input_ids = cols["input_ids"][i]
        cls_index = input_ids.index(tokenizer.cls_token_id) if tokenizer.cls_token_id in input_ids else 0
        sequence_ids = enc.sequence_ids(i)
        example = examples[sample_mapping[i]]
        start_char = example.answers[0]["answer_start"]
        end_char = start_char + len(example.answers[0]["text"])
        token_start_index = 0
        while sequence_ids[token_start_index] != (1 if pad_on_right else 0):
            token_start_index += 1
        token_end_index = len(input_ids) - 1
        while sequence_ids[token_end_index] != (1 if pad_on_right else 0):
            token_end_index -= 1
        if not (offsets[token_start_index][0] <= start_char and offsets[token_end_index][1] >= end_char):
            cols["start_positions"].append(cls_index)
            cols["end_positions"].append(cls_index)
        else:
            while token_start_index < len(offsets) and offsets[token_start_index][0] <= start_char:
                token_start_index += 1
            cols["start_positions"].append(token_start_index - 1)
            while offsets[token_end_index][1] >= end_char:
                token_end_index -= 1
            cols["end_positions"].append(token_end_index + 1)
    return cols


def hf_tagging_features(examples, tokenizer, max_length: int, labels: list[str], padding: str | bool = "max_length") -> dict:
    """run_ner.py's tokenize_and_align_labels (label_all_tokens=False); run_ner.py itself pads per batch."""
    label_to_id = {label: i for i, label in enumerate(labels)}
    enc = tokenizer([e.tokens for e in examples], padding=padding, truncation=True, max_length=max_length,
                    is_split_into_words=True)
    cols = {k: list(v) for k, v in enc.items()}
    cols["labels"] = []
    for i, example in enumerate(examples):
        previous, row = None, []
        for word_idx in enc.word_ids(batch_index=i):
            if word_idx is None:
                row.append(-100)
            elif word_idx != previous:
                row.append(label_to_id[example.tags[word_idx]])
            else:
                row.append(-100)
            previous = word_idx
        cols["labels"].append(row)
    return cols


def prepare(task: str, model_dir: str, steps: int, batch_size: int, n_dev: int, seed: int) -> dict:
    """Examples and features of both arms (xstilts features through the on-disk Arrow cache)."""
    from datasets import Dataset
    from transformers import AutoTokenizer

    from xstilts.data.features import cached_features, tokenizer_fingerprint
    from xstilts.tasks.registry import family_of, get_task
    from xstilts.tasks.tagging import UPOS_TAGS

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    max_length = MAX_LEN[task]
    # HF's length grouping sorts windows of min(50, n / (4 x batch)) batches: from 200 batches of examples
    # on, its window is the default 50 batches, the same as xstilts' epoch_batches
    n_train = max(steps, GROUPING_WINDOW * 4) * batch_size
    if task == "qa":
        spec, labels = get_task("squad_v1"), None
        train_ex, dev_ex = split_squad(n_train, n_dev, seed)
        featurize_hf = lambda padding: hf_qa_features(train_ex, tokenizer, max_length, padding)  # noqa: E731
    else:
        spec, labels = get_task("udpos"), list(UPOS_TAGS)
        train_ex, dev_ex = split_ewt(n_train, n_dev, seed)
        featurize_hf = lambda padding: hf_tagging_features(train_ex, tokenizer, max_length, labels, padding)  # noqa: E731
    hf_cols, hf_best_cols = featurize_hf("max_length"), featurize_hf(False)
    family = family_of(spec)
    key = {"bench": "throughput", "task": task, "n": n_train, "seed": seed, "max_length": max_length,
           "tokenizer": tokenizer_fingerprint(tokenizer)}
    xs_train = cached_features({**key, "split": "train"}, lambda: family.featurize(train_ex, tokenizer, max_length, labels))
    xs_dev = cached_features({**key, "split": "dev", "n_dev": n_dev},
                             lambda: family.featurize(dev_ex, tokenizer, max_length, labels))
    hf_train, hf_best_train = Dataset.from_dict(hf_cols), Dataset.from_dict(hf_best_cols)

    # Same token ids (minus padding) and labels in both arms?
    same_ids = same_labels = 0
    xs_ids = xs_train["input_ids"]
    label_col = "labels" if task == "tagging" else "start_positions"
    xs_lab, hf_lab = xs_train[label_col], hf_cols[label_col]
    for i in range(min(len(xs_ids), len(hf_cols["input_ids"]))):
        hf_real = [t for t, m in zip(hf_cols["input_ids"][i], hf_cols["attention_mask"][i]) if m]
        same_ids += hf_real == xs_ids[i] == hf_best_cols["input_ids"][i]
        same_labels += (hf_lab[i][:len(xs_lab[i])] == xs_lab[i]) if task == "tagging" else hf_lab[i] == xs_lab[i]
    check = (f"{len(train_ex)} training examples -> {len(xs_train)} xstilts / {len(hf_train)} HF features; "
             f"identical non-pad token ids (all three arms) in {same_ids}, identical labels in {same_labels}")
    return dict(task=task, spec=spec, family=family, labels=labels, tokenizer=tokenizer, max_length=max_length,
                train_ex=train_ex, dev_ex=dev_ex, xs_train=xs_train, xs_dev=xs_dev, hf_train=hf_train,
                hf_best_train=hf_best_train, check=check)


# ----------------------------------------------------------------------------------------- eval
def dev_metric(data: dict, forward) -> float:
    """Score either arm's model with the same dynamic-padding inference (forward(batch) -> logits)."""
    import numpy as np
    import torch

    from xstilts.data.features import pad_batch, sequence_lengths

    features = data["xs_dev"]
    lengths = sequence_lengths(features)
    order = np.argsort(lengths, kind="stable")
    columns = [c for c in ("input_ids", "attention_mask", "token_type_ids") if c in features.column_names]
    logits = [None] * len(features)
    with torch.no_grad():
        for start in range(0, len(order), 64):
            idx = order[start:start + 64].tolist()
            out = forward(pad_batch(features.select_columns(columns)[idx], data["tokenizer"].pad_token_id))
            out = out.float().cpu().numpy()
            for row, i in enumerate(idx):
                logits[i] = out[row, :lengths[i]]
    decoded = data["family"].decode(data["dev_ex"], features, logits, data["labels"], data["spec"])
    if data["task"] == "qa":
        return data["family"].score(data["dev_ex"], decoded, "en", data["spec"])["f1"]
    pairs = [(g, p) for e, pred in zip(data["dev_ex"], decoded) for g, p in zip(e.tags, pred)]
    return 100.0 * sum(g == p for g, p in pairs) / len(pairs)


# ----------------------------------------------------------------------------------------- arms
def run_hf(data: dict, model_dir: str, args, evaluate: bool, best: bool = False) -> dict:
    """The Trainer as the example scripts run it (max-length padding, random sampler) or, with best=True,
    as a competent user would: per-batch padding with HF's collators, group_by_length, fused AdamW."""
    import torch
    from transformers import (AutoModelForQuestionAnswering, AutoModelForTokenClassification,
                              DataCollatorForTokenClassification, DataCollatorWithPadding, Trainer, TrainingArguments,
                              default_data_collator, set_seed)

    set_seed(args.seed)
    if data["task"] == "qa":
        model = AutoModelForQuestionAnswering.from_pretrained(model_dir)
    else:
        labels = data["labels"]
        model = AutoModelForTokenClassification.from_pretrained(
            model_dir, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)})
    counts = {"examples": 0, "real": 0, "padded": 0, "square": 0}

    if not best:
        collate = default_data_collator
    elif data["task"] == "qa":
        collate = DataCollatorWithPadding(data["tokenizer"])
    else:
        collate = DataCollatorForTokenClassification(data["tokenizer"])

    def collator(features):  # HF's collator; counting only (a sum over an int tensor)
        batch = collate(features)
        counts["examples"] += len(batch["input_ids"])
        counts["real"] += int(batch["attention_mask"].sum())
        counts["padded"] += batch["input_ids"].numel()
        counts["square"] += len(batch["input_ids"]) * batch["input_ids"].shape[1] ** 2
        return batch

    with tempfile.TemporaryDirectory() as out:
        targs = TrainingArguments(
            output_dir=out, per_device_train_batch_size=args.batch_size, max_steps=args.steps,
            learning_rate=args.lr[data["task"]], weight_decay=0.01, warmup_steps=0.1, lr_scheduler_type="linear",
            max_grad_norm=1.0, seed=args.seed, use_cpu=args.device == "cpu", bf16=args.precision == "bf16",
            report_to="none", save_strategy="no", logging_strategy="no", disable_tqdm=True,
            dataloader_num_workers=0, torch_compile=args.compile, optim="adamw_torch_fused",
            train_sampling_strategy="group_by_length" if best else "random")
        trainer = Trainer(model=model, args=targs, train_dataset=data["hf_best_train" if best else "hf_train"],
                          data_collator=collator)
        t0 = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - t0
    result = {"seconds": seconds, **counts}
    if evaluate:
        model.eval()
        device = next(model.parameters()).device

        def forward(batch):
            out = model(**{k: v.to(device) for k, v in batch.items()})
            return torch.stack([out.start_logits, out.end_logits], -1) if data["task"] == "qa" else out.logits

        t0 = time.perf_counter()
        result["metric"] = dev_metric(data, forward)
        result["eval_seconds"] = time.perf_counter() - t0
    return result


def run_xstilts(data: dict, model_dir: str, args, evaluate: bool, **options) -> dict:
    """The xstilts loop; `options` are TrainSettings fields (embedding_optimizer, freeze_embeddings)."""
    import torch
    from accelerate.state import AcceleratorState, GradientState
    from accelerate.utils import set_seed

    from xstilts.config import TrainSettings
    from xstilts.data.features import sequence_lengths
    from xstilts.modeling.model import MultiTaskModel, load_encoder
    from xstilts.training.loop import TrainRun, TrainTask, make_accelerator, make_plan, train

    AcceleratorState._reset_state(True)  # the Trainer arm may have created one in this process
    GradientState._reset_state()
    set_seed(args.seed)
    encoder, tokenizer = load_encoder(model_dir)
    model = MultiTaskModel(encoder)
    family, spec = data["family"], data["spec"]
    model.add_head(spec.head_name, family.head_kind, family.num_labels(data["labels"], data["xs_train"]))
    task = TrainTask(spec.name, spec.head_name, data["xs_train"], args.batch_size)
    settings = TrainSettings(learning_rate=args.lr[data["task"]], batch_size=args.batch_size, max_steps=args.steps,
                             max_length=data["max_length"], warmup_ratio=0.1, weight_decay=0.01,
                             precision=args.precision, length_grouping=not args.no_grouping, save_every=10**9, **options)
    accelerator = make_accelerator(settings, args.device)
    model.to(accelerator.device)
    if args.compile:
        model.encoder = torch.compile(model.encoder)
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        train(model, TrainRun([task], [spec.name] * args.steps, settings, Path(out), args.seed, tokenizer.pad_token_id),
              accelerator)
        seconds = time.perf_counter() - t0
    lengths = sequence_lengths(data["xs_train"])
    plan = make_plan([task], [spec.name] * args.steps, args.seed, settings.length_grouping)
    counts = {"examples": sum(len(i) for _, i in plan), "real": sum(lengths[j] for _, i in plan for j in i),
              "padded": sum(len(i) * max(lengths[j] for j in i) for _, i in plan),
              "square": sum(len(i) * max(lengths[j] for j in i) ** 2 for _, i in plan)}
    result = {"seconds": seconds, **counts}
    if evaluate:
        device = accelerator.device
        forward = lambda batch: model(spec.head_name, **{k: v.to(device) for k, v in batch.items()})[1]  # noqa: E731
        model.eval()
        t0 = time.perf_counter()
        result["metric"] = dev_metric(data, forward)
        result["eval_seconds"] = time.perf_counter() - t0
    return result


def training_flops(model_dir: str, counts: dict) -> float:
    """Matmul FLOPs of the encoder's forward and backward (3 x forward) over the tokens an arm computed on:
    its linear layers per processed token, plus attention's two L x L products per sequence."""
    config = json.loads((Path(model_dir) / "config.json").read_text())
    layers, hidden, ffn = config["num_hidden_layers"], config["hidden_size"], config["intermediate_size"]
    linear = layers * (4 * hidden * hidden + 2 * hidden * ffn)
    return 3 * (2 * linear * counts["padded"] + 4 * layers * hidden * counts["square"])


def gemm_peak(precision: str, device: str) -> float:
    """GFLOP/s of one large matmul at the arms' precision and thread count: the ceiling the encoder's
    matmuls run against (a linear layer of 4096 tokens, hidden 384 -> 1536)."""
    import torch

    a, b = torch.randn(4096, 384, device=device), torch.randn(384, 1536, device=device)
    with torch.autocast(device, dtype=torch.bfloat16, enabled=precision == "bf16"):
        times = []
        for _ in range(12):
            t0 = time.perf_counter()
            (a @ b).sum().item()
            times.append(time.perf_counter() - t0)
    return 2 * 4096 * 384 * 1536 / sorted(times[2:])[len(times[2:]) // 2] / 1e9


ARMS = {"hf": run_hf, "hf-best": partial(run_hf, best=True), "xstilts": run_xstilts,
        "xstilts-sparse": partial(run_xstilts, embedding_optimizer="sparse"),
        "xstilts-frozen": partial(run_xstilts, freeze_embeddings=True),
        "xstilts-torchmasks": partial(run_xstilts, dropout_masks="torch"),
        "xstilts-nodropout": partial(run_xstilts, dropout=0.0)}
BASELINE = "hf-best"


# ----------------------------------------------------------------------------------------- main
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="all-minilm-l6-v2",
                   help="all-minilm-l6-v2 | multilingual-e5-small | random-minilm | a local HF dir")
    p.add_argument("--task", choices=["qa", "tagging", "both"], default="both")
    p.add_argument("--steps", type=int, default=20, help="optimizer steps per arm")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--reps", type=int, default=2, help="repetitions per arm, arm order alternating")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--precision", choices=["no", "bf16"], default="no", help="same for both arms")
    p.add_argument("--lr-qa", type=float, default=1e-4)
    p.add_argument("--lr-tagging", type=float, default=1e-4)
    p.add_argument("--n-dev", type=int, default=200)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--no-eval", action="store_true", help="skip the dev metric")
    p.add_argument("--no-grouping", action="store_true", help="xstilts arm without length grouping (ablation)")
    p.add_argument("--arms", default="hf,hf-best,xstilts,xstilts-sparse",
                   help=f"comma-separated, from {', '.join(ARMS)}; ratios are against {BASELINE}, which must be one")
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0 = torch default)")
    p.add_argument("--compile", action="store_true", help="torch.compile in both arms (experimental)")
    p.add_argument("--arm", choices=list(ARMS), help="run only this arm once and print a JSON line "
                   "(with peak RSS); used by benchmarks/memory.py")
    p.add_argument("--out", default="throughput", help="results/<out>.md ('' = don't write)")
    args = p.parse_args(argv)
    args.lr = {"qa": args.lr_qa, "tagging": args.lr_tagging}
    args.arms = args.arms.split(",")
    if BASELINE not in args.arms or not set(args.arms) <= set(ARMS):
        p.error(f"--arms must include {BASELINE} and name only {', '.join(ARMS)}")
    return args


def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault("XSTILTS_CACHE", str(Path(tempfile.gettempdir()) / "xstilts-bench-cache"))
    import torch
    import transformers

    import datasets

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    datasets.disable_progress_bars()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda but no CUDA device is visible")
    model_dir, model_desc = resolve_model(args.model)
    tasks = ["qa", "tagging"] if args.task == "both" else [args.task]

    if args.arm:  # single measurement for memory.py
        data = prepare(tasks[0], model_dir, args.steps, args.batch_size, args.n_dev, args.seed)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        result = ARMS[args.arm](data, model_dir, args, evaluate=False)
        print("RESULT " + json.dumps({**result, "maxrss_kib_before_train": rss_before,
                                      "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                                      "model": model_desc}))
        return

    report = Report(args.out) if args.out else print
    report(f"model: {model_desc}")
    report(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    report(f"steps {args.steps} x batch {args.batch_size}, reps {args.reps} (arm order alternating), device "
           f"{args.device}, precision {args.precision}, lr {args.lr}, seed {args.seed}, torch threads "
           f"{torch.get_num_threads()}, length grouping {'off' if args.no_grouping else 'on'}, "
           f"torch.compile {'on' if args.compile else 'off'}\n")
    peak = gemm_peak(args.precision, args.device)
    report(f"matmul ceiling at this precision: {peak:.0f} GFLOP/s (4096x384 @ 384x1536, median of 10)\n")
    summary = []
    for task in tasks:
        t0 = time.perf_counter()
        data = prepare(task, model_dir, args.steps, args.batch_size, args.n_dev, args.seed)
        report(f"[{task}] max length {data['max_length']}: {data['check']} (prep {time.perf_counter() - t0:.1f} s)")
        arms = args.arms
        runs = {arm: [] for arm in arms}
        for rep in range(args.reps):
            order = arms if rep % 2 == 0 else arms[::-1]
            for arm in order:
                r = ARMS[arm](data, model_dir, args, evaluate=rep == 0 and not args.no_eval)
                gc.collect()  # the arm's model and optimizer are garbage now
                runs[arm].append(r)
                report(f"  rep {rep} {arm:14s} {r['seconds']:7.1f} s  {r['examples'] / r['seconds']:6.2f} ex/s  "
                       f"{r['real'] / r['seconds']:8.0f} real tok/s  pad fraction {1 - r['real'] / r['padded']:.2f}"
                       + (f"  dev {r['metric']:.2f} (eval {r['eval_seconds']:.1f} s)" if "metric" in r else "")
                       + f"  load {os.getloadavg()[0]:.2f}")
        rows = []
        for arm in arms:
            rs = runs[arm]
            rows.append([arm, spread([r["seconds"] for r in rs], "{:.1f}"),
                         spread([r["examples"] / r["seconds"] for r in rs]),
                         spread([r["real"] / r["seconds"] for r in rs], "{:.0f}"),
                         spread([r["padded"] / r["seconds"] for r in rs], "{:.0f}"),
                         f"{1 - rs[0]['real'] / rs[0]['padded']:.2f}",
                         spread([100 * training_flops(model_dir, r) / r["seconds"] / 1e9 / peak for r in rs], "{:.0f}%"),
                         f"{rs[0]['metric']:.2f}" if "metric" in rs[0] else "-"])
        metric = "F1 (200 held-out SQuAD dev questions)" if task == "qa" else "UPOS word accuracy (200 EWT dev sentences)"
        report(f"\n### {task} (max length {data['max_length']}), dev metric = {metric}\n")
        report(table(["arm", "train s", "examples/s", "real tokens/s", "processed tokens/s (incl. pad)",
                      "pad fraction", "encoder matmul FLOP/s, % of ceiling", "dev metric"], rows))
        report("")
        base = runs[BASELINE]
        for arm in arms:
            if arm == BASELINE:
                continue
            # Ratio per repetition (the arms of one repetition ran back to back).
            ratios = [(x["examples"] / x["seconds"]) / (h["examples"] / h["seconds"]) for h, x in zip(base, runs[arm])]
            tok_ratios = [(x["real"] / x["seconds"]) / (h["real"] / h["seconds"]) for h, x in zip(base, runs[arm])]
            report(f"{arm} / {BASELINE}: examples/s x{spread(ratios)}, real tokens/s x{spread(tok_ratios)} "
                   "(median (min-max) over repetitions)")
            summary.append([task, arm, spread(ratios), spread(tok_ratios),
                            f"{base[0].get('metric', float('nan')):.2f}", f"{runs[arm][0].get('metric', float('nan')):.2f}"])
        report("")
        del data
        gc.collect()
    report(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    report("### summary\n")
    report(table(["task", "arm", f"examples/s ratio arm/{BASELINE}", f"real tokens/s ratio arm/{BASELINE}",
                  f"{BASELINE} dev metric", "arm dev metric"], summary))
    if args.out:
        report.save(f"Training throughput: HF Trainer (example-script and best setups) vs the xstilts loop; ratios against {BASELINE}")


if __name__ == "__main__":
    main()
