"""Dropout's cost and the `dropout_masks: int16` path: step times, and what it does to results.

Step times: training steps (forward, backward; no optimizer) of a token-classification model on fixed random
batches, one sequence in two padded by a quarter, in three arms that alternate per step:
  torch  torch's dropout, SDPA's math path for attention dropout (what HF runs; dropout_masks: torch);
  int16  the recipe's dropout drawn as int16 masks, attention dropout in Int16DropoutAttention;
  none   dropout: 0 (SDPA's fused kernel; a different recipe, the floor dropout costs against).
Results: MiniLM-L6 fine-tuned on UD English-EWT (benchmarks/throughput.py's tagging data) with torch and
int16 masks, and without dropout, over several seeds; dev UPOS accuracy per seed and the paired difference
int16 - torch with its 95% t-interval over seeds.

    python benchmarks/dropout.py
    python benchmarks/dropout.py --models all-minilm-l6-v2 --lengths 64 --timed-steps 2 --seeds 1 --steps 4 --out ''  # smoke
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Report, resolve_model, spread, table  # noqa: E402

ARMS = {"torch": {"dropout_masks": "torch"}, "int16": {"dropout_masks": "int16"},
        "none": {"dropout_masks": "torch", "dropout": 0.0}}


def step_times(model_dir: str, length: int, batch_size: int, precision: str, warmup: int, timed: int) -> dict:
    """Seconds per forward+backward of each arm, arms interleaved step by step."""
    import torch

    from xstilts.config import TrainSettings
    from xstilts.modeling.model import MultiTaskModel, load_encoder
    from xstilts.training.memory import prepare_for_training

    models = {}
    for arm, options in ARMS.items():
        torch.manual_seed(0)
        encoder, _ = load_encoder(model_dir)
        model = MultiTaskModel(encoder)
        model.add_head("pos", "tagging", 17)
        prepare_for_training(model.train(), TrainSettings(**options), torch.device("cpu"))
        models[arm] = model
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 1000, (batch_size, length), generator=generator)
    attention = torch.ones_like(ids)
    attention[::2, length * 3 // 4:] = 0
    labels = torch.randint(0, 17, ids.shape, generator=generator)
    times = {arm: [] for arm in ARMS}
    for step in range(warmup + timed):
        for arm in list(ARMS)[step % 3:] + list(ARMS)[:step % 3]:
            t0 = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                loss, _ = models[arm]("pos", input_ids=ids, attention_mask=attention, labels=labels)
            loss.backward()
            models[arm].zero_grad(set_to_none=True)
            if step >= warmup:
                times[arm].append(time.perf_counter() - t0)
    return times


def dev_results(model_dir: str, seeds: int, steps: int, batch_size: int) -> dict[str, list[float]]:
    """Dev UPOS accuracy per seed of each arm (throughput.py's tagging data and xstilts arm)."""
    from throughput import prepare, run_xstilts

    data = prepare("tagging", model_dir, steps, batch_size, 200, 13)
    metrics = {arm: [] for arm in ARMS}
    for seed in range(1, seeds + 1):
        for arm, options in ARMS.items():
            args = argparse.Namespace(lr={"tagging": 1e-4}, batch_size=batch_size, steps=steps, precision="no",
                                      no_grouping=False, device="cpu", compile=False, seed=seed)
            metrics[arm].append(run_xstilts(data, model_dir, args, evaluate=True, **options)["metric"])
    return metrics


def t_interval(differences: list[float]) -> str:
    from scipy.stats import t

    mean = statistics.fmean(differences)
    if len(differences) < 2:
        return f"{mean:+.2f}"
    half = t.ppf(0.975, len(differences) - 1) * statistics.stdev(differences) / len(differences) ** 0.5
    return f"{mean:+.2f} [{mean - half:+.2f}, {mean + half:+.2f}]"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="all-minilm-l6-v2,multilingual-e5-small")
    p.add_argument("--lengths", default="384,128", help="sequence lengths of the timed batches")
    p.add_argument("--precisions", default="no,bf16")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--timed-steps", type=int, default=4, help="per arm, model, length and precision")
    p.add_argument("--seeds", type=int, default=5, help="fine-tunes per arm for the dev metric (MiniLM-L6)")
    p.add_argument("--steps", type=int, default=100, help="optimizer steps of each fine-tune")
    p.add_argument("--out", default="dropout")
    args = p.parse_args(argv)
    import torch

    from xstilts.quiet import quiet_libraries

    quiet_libraries()
    report = Report(args.out)
    report(f"batch {args.batch_size}, {args.timed_steps} timed steps per arm after {args.warmup} warm-up, arms "
           f"interleaved; torch threads {torch.get_num_threads()}; load average at start: "
           f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    rows = []
    for name in args.models.split(","):
        model_dir, _ = resolve_model(name)
        for length in map(int, args.lengths.split(",")):
            for precision in args.precisions.split(","):
                times = step_times(model_dir, length, args.batch_size, precision, args.warmup, args.timed_steps)
                ms = {arm: statistics.median(t) * 1000 for arm, t in times.items()}
                report(f"  {name} length {length} {precision}: " + ", ".join(f"{a} {v:.0f} ms" for a, v in ms.items())
                       + f"  load {os.getloadavg()[0]:.2f}")
                rows.append([name, length, "fp32" if precision == "no" else precision,
                             *(spread([x * 1000 for x in times[arm]], "{:.0f}") for arm in ARMS),
                             f"{100 * (ms['torch'] - ms['none']) / ms['torch']:.0f}%",
                             f"{100 * (ms['int16'] - ms['none']) / ms['int16']:.0f}%",
                             f"x{ms['torch'] / ms['int16']:.2f}"])
    report("\n### forward + backward ms per step (median (min-max) over steps)\n")
    report(table(["model", "length", "precision", *(f"{arm} ms" for arm in ARMS), "dropout's share, torch",
                  "dropout's share, int16", "torch / int16"], rows))
    if args.seeds:
        model_dir, _ = resolve_model("all-minilm-l6-v2")
        metrics = dev_results(model_dir, args.seeds, args.steps, args.batch_size)
        report(f"\n### dev UPOS accuracy, MiniLM-L6 on UD EWT, {args.steps} steps x {args.batch_size}, "
               f"seeds 1-{args.seeds}, fp32\n")
        report(table(["arm", "per seed", "mean"],
                     [[arm, " ".join(f"{m:.2f}" for m in ms), f"{statistics.fmean(ms):.2f}"] for arm, ms in metrics.items()]))
        for arm in ("int16", "none"):
            report(f"\n{arm} - torch, paired by seed: {t_interval([a - b for a, b in zip(metrics[arm], metrics['torch'])])} "
                   f"(mean, 95% t-interval over {args.seeds} seeds)")
    report(f"\nload average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.out:
        report.save("Dropout: torch's vs int16 masks vs none; step times and dev results")


if __name__ == "__main__":
    main()
