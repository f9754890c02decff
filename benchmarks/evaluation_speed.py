"""Zero-shot evaluation speed: xstilts' prediction path vs the HF Trainer's `predict`, on the same features.

Both arms score the same model (one encoder, the same head weights copied into HF's head) on the same
cached xstilts features of every language: XQuAD (XTREME's 11 languages, max length 384) and UD POS
(every XTREME language staged under ../shared/data, max length 128), a seeded subsample of each test set.
  xstilts  evaluation/predict.py:predict_logits, the path Phases.evaluate runs (length-sorted batches,
           autocast at the run's precision).
  hf       Trainer.predict on AutoModelFor{QuestionAnswering,TokenClassification}: per-batch padding with
           DataCollatorWithPadding (HF's dynamic padding; run_qa.py would pad every feature to max length),
           the same batch size and precision (bf16=True is HF's autocast).
Only the prediction call is timed (model loading and featurization excluded); the arms alternate per
repetition, and the load average is printed per run. The largest difference between the arms' logits
(over real tokens) checks that both computed the same thing.

    python benchmarks/evaluation_speed.py --reps 2 --threads 1 --profile
    python benchmarks/evaluation_speed.py --padding-only --out evaluation_speed_padding
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, Report, resolve_model, spread, table  # noqa: E402

TASKS = {"xquad": 384, "udpos": 128}  # task -> max length
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def test_sets(task: str, tokenizer, max_length: int, per_language: int | None) -> dict:
    """language -> (examples, features) for every language of the task staged here, capped per language
    (None: whole test sets)."""
    from xstilts.config import ExperimentConfig
    from xstilts.errors import XstiltsError
    from xstilts.experiments.task_data import TaskData
    from xstilts.tasks.registry import get_task

    config = ExperimentConfig(name="evaluation-speed", output_dir=tempfile.gettempdir(), data_dir=DATA, models=["m"],
                              targets=[task], max_examples={"test": per_language} if per_language else {})
    data, spec = TaskData(config), get_task(task)
    labels = data.labels(spec) if task == "udpos" else None
    sets = {}
    for lang in spec.languages:
        try:
            examples = data.examples(spec, "test", lang)
        except XstiltsError:  # not staged on this machine (UD ar/hi/ru-SynTagRus, ...)
            continue
        sets[lang] = (examples, data.features(spec, "test", lang, tokenizer, max_length, labels, examples))
    return {"spec": spec, "labels": labels, "sets": sets}


def models(task: str, model_dir: str, num_labels: int):
    """The xstilts model and the HF model with the same encoder and head weights."""
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoModelForTokenClassification

    from xstilts.modeling.model import MultiTaskModel, load_encoder
    from xstilts.tasks.registry import family_of, get_task

    spec = get_task(task)
    torch.manual_seed(0)
    encoder, _ = load_encoder(model_dir)
    ours = MultiTaskModel(encoder)
    ours.add_head(spec.head_name, family_of(spec).head_kind, num_labels)
    if task == "xquad":
        hf = AutoModelForQuestionAnswering.from_pretrained(model_dir)
        hf_head = hf.qa_outputs
    else:
        hf = AutoModelForTokenClassification.from_pretrained(model_dir, num_labels=num_labels)
        hf_head = hf.classifier
    hf_head.load_state_dict(ours.heads[spec.head_name].out.state_dict())
    return ours.eval(), hf.eval(), spec.head_name


def run_xstilts(model, head, features, pad_token_id, args) -> tuple[float, list]:
    from xstilts.evaluation.predict import predict_logits

    t0 = time.perf_counter()
    logits = predict_logits(model, head, features, pad_token_id, args.batch_size, precision=args.precision)
    return time.perf_counter() - t0, logits


def run_hf(model, features, tokenizer, args) -> tuple[float, list]:
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    inputs = features.select_columns([c for c in INPUTS if c in features.column_names])
    with tempfile.TemporaryDirectory() as out:
        targs = TrainingArguments(output_dir=out, per_device_eval_batch_size=args.batch_size, use_cpu=True,
                                  bf16=args.precision == "bf16", report_to="none", disable_tqdm=True,
                                  dataloader_num_workers=0)
        trainer = Trainer(model=model, args=targs, data_collator=DataCollatorWithPadding(tokenizer))
        t0 = time.perf_counter()
        output = trainer.predict(inputs)
        seconds = time.perf_counter() - t0
    predictions = output.predictions
    if isinstance(predictions, tuple):  # QA: (start, end), each [N, longest]
        import numpy as np

        predictions = np.stack(predictions, -1)
    return seconds, list(predictions)


def profile(model, head, features, pad_token_id, args, report) -> None:
    """Where xstilts' prediction time goes: the top operators by self CPU time."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        run_xstilts(model, head, features, pad_token_id, args)
    report("\n```\n" + prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12, max_name_column_width=40)
           + "```\n")


def padded_tokens(lengths: list[int], batch_size: int, by_length: bool) -> int:
    """Tokens a prediction pass computes with per-batch padding, in feature order or length-sorted (xstilts)."""
    order = sorted(lengths) if by_length else lengths
    return sum(len(b) * max(b) for b in (order[i:i + batch_size] for i in range(0, len(order), batch_size)))


def full_test_padding(task: str, tokenizer, batch_size: int) -> list:
    """A table row: real tokens of the whole test sets, and the tokens each arm's batching computes."""
    from xstilts.data.features import sequence_lengths

    per_lang = [sequence_lengths(f) for _, f in test_sets(task, tokenizer, TASKS[task], None)["sets"].values()]
    real = sum(map(sum, per_lang))
    hf, ours = (sum(padded_tokens(lengths, batch_size, by_length) for lengths in per_lang) for by_length in (False, True))
    return [task, sum(map(len, per_lang)), real, f"{hf} ({1 - real / hf:.0%} pad)", f"{ours} ({1 - real / ours:.0%} pad)",
            f"x{hf / ours:.2f}"]


def padding_table(args, tokenizer, report) -> None:
    report(f"\n### whole test sets: tokens computed with per-batch padding (batch {args.batch_size}); "
           "Trainer.predict batches in feature order, xstilts sorted by length\n")
    report(table(["task", "features", "real tokens", "Trainer.predict", "xstilts", "Trainer.predict / xstilts"],
                 [full_test_padding(task, tokenizer, args.batch_size) for task in args.tasks.split(",")]))


def max_difference(ours: list, theirs: list) -> float:
    """Largest |difference| between the arms' logits over each feature's real tokens."""
    import numpy as np

    return max(float(np.abs(a - b[:len(a)]).max()) for a, b in zip(ours, theirs))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="multilingual-e5-small")
    p.add_argument("--tasks", default=",".join(TASKS))
    p.add_argument("--per-language", default="xquad=20,udpos=200",
                   help="seeded test examples per language, per task (task=n,...)")
    p.add_argument("--batch-size", type=int, default=64, help="eval batch of both arms (xstilts' eval_batch_size)")
    p.add_argument("--precision", choices=["no", "bf16"], default=None,
                   help="both arms (default: what precision: auto picks on this machine)")
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--profile", action="store_true", help="torch profiler's top operators of xstilts' prediction "
                   "on the first language of each task")
    p.add_argument("--padding-only", action="store_true", help="only the tokens each arm's batching computes on "
                   "the whole test sets (tokenization, no model run)")
    p.add_argument("--out", default="evaluation_speed")
    args = p.parse_args(argv)
    os.environ.setdefault("XSTILTS_CACHE", str(Path(tempfile.gettempdir()) / "xstilts-bench-cache"))
    import torch
    import transformers
    from transformers import AutoTokenizer

    import datasets
    from xstilts.data.features import sequence_lengths
    from xstilts.training.precision import auto_precision

    transformers.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    if args.threads:
        torch.set_num_threads(args.threads)
    args.precision = args.precision or auto_precision("cpu")
    per_language = {task: int(n) for task, n in (pair.split("=") for pair in args.per_language.split(","))}
    model_dir, model_desc = resolve_model(args.model)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    report = Report(args.out)
    if args.padding_only:
        padding_table(args, tokenizer, report)
        report.save("Zero-shot evaluation: tokens computed on the whole test sets, Trainer.predict's batching vs xstilts'")
        return
    report(f"model: {model_desc}")
    report(f"precision {args.precision} (both arms), eval batch {args.batch_size}, test examples per language "
           f"{per_language}, reps {args.reps} (arm order alternating), torch threads {torch.get_num_threads()}\n")
    summary = []
    for task in args.tasks.split(","):
        test = test_sets(task, tokenizer, TASKS[task], per_language[task])
        num_labels = len(test["labels"]) if test["labels"] else 2
        ours, hf, head = models(task, model_dir, num_labels)
        langs = list(test["sets"])
        n = sum(len(f) for _, f in test["sets"].values())
        report(f"[{task}] {len(langs)} languages ({' '.join(langs)}), {n} features at max length {TASKS[task]}")
        times, reference = {"xstilts": [], "hf": []}, {}
        for rep in range(args.reps):
            for arm in (["xstilts", "hf"] if rep % 2 == 0 else ["hf", "xstilts"]):
                seconds, diff = 0.0, 0.0
                for lang, (_, features) in test["sets"].items():
                    if arm == "xstilts":
                        s, logits = run_xstilts(ours, head, features, tokenizer.pad_token_id, args)
                        reference.setdefault(lang, logits)
                    else:  # rep 0 runs xstilts first
                        s, logits = run_hf(hf, features, tokenizer, args)
                        diff = max(diff, max_difference(reference[lang], logits))
                    seconds += s
                times[arm].append(seconds)
                report(f"  rep {rep} {arm:8s} {seconds:7.1f} s  {n / seconds:7.1f} seq/s  load {os.getloadavg()[0]:.2f}"
                       + (f"  max |logit difference| vs xstilts {diff:.3g}" if arm == "hf" else ""))
        if args.profile:
            profile(ours, head, next(iter(test["sets"].values()))[1], tokenizer.pad_token_id, args, report)
        ratios = [h / x for x, h in zip(times["xstilts"], times["hf"])]
        lengths = [sequence_lengths(f) for _, f in test["sets"].values()]
        computed = {arm: sum(padded_tokens(ls, args.batch_size, arm == "xstilts") for ls in lengths) for arm in times}
        summary.append([task, len(langs), n, spread([n / s for s in times["hf"]], "{:.1f}"),
                        spread([n / s for s in times["xstilts"]], "{:.1f}"), f"x{spread(ratios)}",
                        f"x{computed['hf'] / computed['xstilts']:.2f}",
                        f"x{spread([r * computed['xstilts'] / computed['hf'] for r in ratios])}"])
    report("\n### sequences/s, xstilts vs Trainer.predict (median (min-max) over repetitions)\n")
    report(table(["task", "languages", "features", "Trainer.predict seq/s", "xstilts seq/s", "xstilts / Trainer.predict",
                  "tokens computed, Trainer.predict / xstilts", "computed tokens/s, xstilts / Trainer.predict"],
                 summary))
    padding_table(args, tokenizer, report)
    report(f"\nload average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    report.save("Zero-shot evaluation speed: xstilts predict_logits vs HF Trainer.predict on the same features")


if __name__ == "__main__":
    main()
