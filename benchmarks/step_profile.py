"""Where a training step's time goes (mE5-small tagging by default), in three arms:
  dense          torch's dropout, dense AdamW: what the HF Trainer runs;
  sparse         row-sparse embedding AdamW (embedding_optimizer: sparse, equal to dense AdamW);
  sparse+int16   and int16 dropout masks with the blocked attention-dropout function (dropout_masks: int16).

Each step: forward, backward, gradient clipping (xstilts' clip_grad_norm), optimizer.step, zero_grad, timed
with perf_counter around each phase (the CPU runs synchronously). Same batches (UD English-EWT train,
per-batch padding), same fused AdamW, same learning-rate schedule in every arm; the arm order rotates per rep.

    python benchmarks/step_profile.py --steps 8 --reps 2
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Report, resolve_model, spread, table  # noqa: E402
from embedding_step import batches  # noqa: E402

PHASES = ("forward", "backward", "clip", "optimizer", "zero_grad")
ARMS = {"dense": "dense AdamW", "sparse": "row-sparse AdamW", "sparse+int16": "row-sparse AdamW, int16 dropout"}


def run(arm: str, model_dir: str, ids_per_step, warmup: int) -> dict[str, list[float]]:
    import torch
    from accelerate import Accelerator
    from transformers import AutoModelForTokenClassification, get_linear_schedule_with_warmup

    from xstilts.training.dropout import use_dropout_masks
    from xstilts.training.loop import decay_groups
    from xstilts.training.sparse_adamw import RowSparseAdamW, catch_up, clip_grad_norm

    torch.manual_seed(0)
    model = AutoModelForTokenClassification.from_pretrained(model_dir, num_labels=17)
    model.train()
    use_dropout_masks(model, "int16" if arm.endswith("int16") else "torch")
    sparse = [model.get_input_embeddings()] if arm.startswith("sparse") else []
    optimizer = RowSparseAdamW(decay_groups(model, 0.01), embeddings=sparse, lr=2e-5, fused=True)
    scheduler = get_linear_schedule_with_warmup(optimizer, 1, len(ids_per_step))
    accelerator = Accelerator(cpu=True)
    times = {phase: [] for phase in PHASES}
    for step, ids in enumerate(ids_per_step):
        labels = torch.randint(0, 17, ids.shape, generator=torch.Generator().manual_seed(step))
        marks = [time.perf_counter()]
        loss = model(input_ids=ids, attention_mask=(ids != model.config.pad_token_id).long(), labels=labels).loss
        marks.append(time.perf_counter())
        loss.backward()
        marks.append(time.perf_counter())
        clip_grad_norm(accelerator, model.parameters(), 1.0)
        marks.append(time.perf_counter())
        optimizer.step()
        scheduler.step()
        marks.append(time.perf_counter())
        optimizer.zero_grad(set_to_none=True)
        marks.append(time.perf_counter())
        if step >= warmup:
            for phase, start, stop in zip(PHASES, marks, marks[1:]):
                times[phase].append(stop - start)
    catch_up(optimizer)
    return times


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="multilingual-e5-small")
    p.add_argument("--steps", type=int, default=8, help="timed steps per arm and rep (after --warmup)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--out", default="step_profile")
    args = p.parse_args(argv)
    from transformers import AutoTokenizer

    from xstilts.quiet import quiet_libraries

    quiet_libraries()
    model_dir, model_desc = resolve_model(args.model)
    ids = batches(AutoTokenizer.from_pretrained(model_dir), args.warmup + args.steps, args.batch_size, 13)
    report = Report(args.out)
    report(f"model: {model_desc}; token classification (17 labels), UD EWT batches of {args.batch_size} "
           f"(mean {sum(i.numel() for i in ids) / len(ids):.0f} padded tokens a batch); {args.steps} timed steps after "
           f"{args.warmup} warm-up; fp32; load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    ms = {arm: {phase: [] for phase in PHASES} for arm in ARMS}
    for rep in range(args.reps):
        for arm in list(ARMS)[rep % len(ARMS):] + list(ARMS)[:rep % len(ARMS)]:
            times = run(arm, model_dir, ids, args.warmup)
            for phase in PHASES:
                ms[arm][phase].append(1000 * sum(times[phase]) / len(times[phase]))
            total = sum(ms[arm][phase][-1] for phase in PHASES)
            report(f"  rep {rep} {arm:12s} {total:7.0f} ms/step  load {os.getloadavg()[0]:.2f}")
    totals = {arm: [sum(ms[arm][ph][r] for ph in PHASES) for r in range(args.reps)] for arm in ms}
    rows = [[phase] + [f"{spread(ms[arm][phase], '{:.0f}')} ({100 * sum(ms[arm][phase]) / sum(totals[arm]):.0f}%)"
                       for arm in ms] for phase in PHASES]
    rows.append(["step"] + [spread(totals[arm], "{:.0f}") for arm in ms])
    report("")
    report(table(["phase (ms per step, share)", *ARMS.values()], rows))
    for arm in list(ARMS)[1:]:
        report(f"\nstep time dense / {arm}: x{spread([d / s for d, s in zip(totals['dense'], totals[arm])])}")
    report(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    report.save("Training step breakdown: dense AdamW and torch's dropout vs row-sparse AdamW and int16 dropout")


if __name__ == "__main__":
    main()
