"""Does torch.compile help a few CPU training steps? Eager vs torch.compile(model) (inductor).

One MultiTaskModel (encoder + span-QA head) and one fused AdamW; the compiled module wraps the
same parameters, so eager and compiled steps are interleaved (e, c, e, c, ...) and background
load hits both. Two regimes:
  fixed   : every batch [batch, max_len] (HF-style max-length padding): one compilation.
  dynamic : xstilts-style dynamic padding, one length per step taken from real length-grouped
            SQuAD batches (bucketed only by what the data gives): recompilation / dynamic shapes.
Reported: the first compiled step(s) (compile cost), steady-state median step time per mode, and
the break-even step count.

    python benchmarks/compile_check.py --steps 6 --batch-size 8 --max-len 256
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Report, resolve_model, table  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="all-minilm-l6-v2")
    p.add_argument("--steps", type=int, default=6, help="timed steps per mode and regime (after 2 warm-up steps)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--max-len", type=int, default=256)
    p.add_argument("--regimes", default="fixed,dynamic")
    p.add_argument("--out", default="compile_check")
    args = p.parse_args(argv)

    import numpy as np
    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    from xstilts.modeling.model import MultiTaskModel, load_encoder

    model_dir, desc = resolve_model(args.model)
    report = Report(args.out)
    report(f"model: {desc}; torch {torch.__version__}, threads {torch.get_num_threads()}, "
           f"load average at start {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    report(f"batch {args.batch_size}, max length {args.max_len}, {args.steps} timed steps per mode after 2 warm-up "
           "steps; eager and compiled steps interleaved on shared weights\n")

    torch.manual_seed(0)
    encoder, tokenizer = load_encoder(model_dir)
    model = MultiTaskModel(encoder)
    model.add_head("qa", "span_qa")
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=True)
    compiled = torch.compile(model)
    rng = np.random.default_rng(0)
    # Realistic lengths: SQuAD windows at 384 are ~120-384 long; scaled to --max-len.
    lengths = [int(x) for x in np.clip(rng.normal(0.45, 0.15, 64) * args.max_len, 24, args.max_len)]

    def batch(length):
        ids = torch.randint(1000, 20000, (args.batch_size, length))
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "token_type_ids": torch.zeros_like(ids),
                "start_positions": torch.randint(0, length, (args.batch_size,)),
                "end_positions": torch.randint(0, length, (args.batch_size,))}

    def step(m, b):
        t0 = time.perf_counter()
        loss, _ = m("qa", **b)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return time.perf_counter() - t0

    rows = []
    for regime in args.regimes.split(","):
        shape = (lambda i: args.max_len) if regime == "fixed" else (lambda i: lengths[i % len(lengths)])
        times = {"eager": [], "compiled": []}
        for i in range(args.steps + 2):
            b = batch(shape(i))
            for mode in (("eager", "compiled") if i % 2 == 0 else ("compiled", "eager")):
                times[mode].append(step(model if mode == "eager" else compiled, b))
            report(f"[{regime}] step {i} len {shape(i)}: eager {times['eager'][-1]:.2f} s, compiled {times['compiled'][-1]:.2f} s")
        eager_ss = statistics.median(times["eager"][2:])
        comp_ss = statistics.median(times["compiled"][2:])
        first = sum(times["compiled"][:2])
        extra = first - 2 * eager_ss  # compile overhead beyond two eager steps
        gain = eager_ss - comp_ss
        breakeven = f"{extra / gain:.0f} steps" if gain > 0 else "never (compiled steady state is not faster)"
        rows.append([regime, f"{sum(times['eager'][:2]):.1f}", f"{first:.1f}", f"{eager_ss:.3f}", f"{comp_ss:.3f}",
                     f"{eager_ss / comp_ss:.2f}", f"{sum(times['eager']):.1f}", f"{sum(times['compiled']):.1f}", breakeven])
    report("")
    report(table(["regime", "eager first 2 steps s", "compiled first 2 steps s (compile)", "eager median step s",
                  "compiled median step s", "steady-state speed-up", f"eager total {args.steps + 2} steps s",
                  f"compiled total {args.steps + 2} steps s", "break-even"], rows))
    report.save("torch.compile on CPU: eager vs compiled training steps")


if __name__ == "__main__":
    main()
