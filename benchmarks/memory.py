"""Peak RSS of a short QA fine-tune (default: multilingual-e5-small, SQuAD features at 384).

Each measurement is a fresh subprocess running one arm of benchmarks/throughput.py
(`--arm hf|hf-best|xstilts|xstilts-sparse --task qa --no-eval`); peak RSS is that process's
resource.getrusage(RUSAGE_SELF).ru_maxrss at the end, next to the value before the arm started
(interpreter + libraries + tokenised data, no model yet). Arms alternate order across repetitions.

    python benchmarks/memory.py --model multilingual-e5-small --steps 3 --batch-size 16
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Report, resolve_model, spread, table  # noqa: E402

HERE = Path(__file__).resolve().parent


def measure(arm: str, args) -> dict:
    cmd = [sys.executable, str(HERE / "throughput.py"), "--arm", arm, "--task", "qa", "--model", args.model_dir,
           "--steps", str(args.steps), "--batch-size", str(args.batch_size), "--no-eval", "--out", ""]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"{arm} failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="multilingual-e5-small")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--reps", type=int, default=1)
    p.add_argument("--arms", default="hf,hf-best,xstilts,xstilts-sparse")
    p.add_argument("--out", default="memory")
    args = p.parse_args(argv)
    args.model_dir, desc = resolve_model(args.model)
    arms = args.arms.split(",")

    report = Report(args.out)
    report(f"model: {desc}")
    report(f"QA (SQuAD v1.1 dev questions, max length 384), {args.steps} optimizer steps x batch {args.batch_size}, "
           f"one subprocess per measurement; load average at start {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    runs = {a: [] for a in arms}
    for rep in range(args.reps):
        for arm in (arms if rep % 2 == 0 else arms[::-1]):
            r = measure(arm, args)
            runs[arm].append(r)
            report(f"rep {rep} {arm:14s} peak RSS {r['maxrss_kib'] / 1024:7.0f} MiB (before arm {r['maxrss_kib_before_train'] / 1024:.0f} MiB); "
                   f"{args.steps} steps in {r['seconds']:.1f} s; pad fraction {1 - r['real'] / r['padded']:.2f}")
    report("")
    report(table(["arm", "peak RSS MiB", "RSS before arm MiB", "train s (steps)", "s/step"], [
        [a, spread([r["maxrss_kib"] / 1024 for r in rs], "{:.0f}"), spread([r["maxrss_kib_before_train"] / 1024 for r in rs], "{:.0f}"),
         spread([r["seconds"] for r in rs], "{:.1f}"), spread([r["seconds"] / args.steps for r in rs], "{:.1f}")]
        for a, rs in runs.items()]))
    report.save(f"Peak RSS of a {args.steps}-step QA fine-tune")


if __name__ == "__main__":
    main()
