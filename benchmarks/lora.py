"""LoRA vs full fine-tuning of mE5-small on the XQuAD target (SQuAD-format English training, zero-shot test).

Each arm is a fresh subprocess running one xstilts pipeline (baseline setting, target xquad): trainable
parameters (train_state.json), peak RSS (ru_maxrss of that process), seconds per training step (from the
phase's run.log, which logs every step here: first to last logged step, so loading, features and the
final dev evaluation are left out) and the XQuAD F1/EM averaged over the subsampled languages.

    python benchmarks/lora.py --steps 24 --batch-size 8 --max-length 256 --test-questions 24
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Report, resolve_model, table  # noqa: E402
from research_question import prepare_squad_xquad  # noqa: E402

ARMS = {"full": None, "lora": {"rank": 8, "alpha": 16, "target_modules": ["query", "value"]}}
LOG_LINE = re.compile(r"^(\S+ \S+) INFO phase 2 xquad step (\d+): train/loss")


def seconds_per_step(run_log: Path) -> float:
    points = [(dt.datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S,%f"), int(m[2]))
              for m in map(LOG_LINE.match, run_log.read_text().splitlines()) if m]
    (t0, s0), (t1, s1) = points[0], points[-1]
    return (t1 - t0).total_seconds() / (s1 - s0)


def run_arm(arm: str, args) -> dict:
    """In this (fresh) process: one pipeline, then the measurements as one JSON line."""
    from xstilts.config import load_config
    from xstilts.experiments.pipeline import Pipeline

    work = Path(args.work)
    data = json.loads((work / "data.json").read_text())
    training = dict(max_steps=args.steps, batch_size=args.batch_size, max_length=args.max_length,
                    learning_rate=args.lr[arm], eval_every=args.steps, precision="no", lora=ARMS[arm])
    config = load_config(base=dict(
        name=f"lora-{arm}", output_dir=str(work / arm), data_dir=str(work), models=[args.model_dir], targets=["xquad"],
        data={"xquad": data["xquad"]}, target_training=training, tracking={"log_every": 1}, feature_cache=False))
    pipeline = Pipeline(config)
    pipeline.run()
    cell = next(pipeline.cells())
    state = json.loads((cell.finetune_dir / "train_state.json").read_text())
    rows = pipeline.store.rows(cell_keys=[cell.key])
    mean = lambda metric: statistics.mean(r["value"] for r in rows if r["metric"] == metric)
    return {"arm": arm, "trainable": state["trainable_parameters"], "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "s_per_step": seconds_per_step(cell.finetune_dir / "run.log"), "f1": mean("f1"), "em": mean("exact_match"),
            "languages": len({r["language"] for r in rows}), "lr": args.lr[arm]}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="multilingual-e5-small")
    p.add_argument("--steps", type=int, default=24)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--test-questions", type=int, default=24)
    p.add_argument("--arm", choices=sorted(ARMS), help=argparse.SUPPRESS)  # internal: run one arm
    p.add_argument("--work", help=argparse.SUPPRESS)
    p.add_argument("--model-dir", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.lr = {"full": 1e-4, "lora": 1e-3}  # LoRA's usual larger rate (Hu et al. 2021)
    if args.arm:
        print("RESULT " + json.dumps(run_arm(args.arm, args)), flush=True)
        return
    report = Report("lora")
    model_dir, described = resolve_model(args.model)
    work = Path(tempfile.mkdtemp(prefix="xstilts-lora-"))
    info: dict = {}
    files = prepare_squad_xquad(work, {"squad_dev_q": 24, "xquad_test_q": args.test_questions}, info)
    (work / "data.json").write_text(json.dumps(files))
    report(f"model: {described}")
    report(f"data: target training {info['squad']['target_questions']} SQuAD questions (no XQuAD paragraphs), English dev "
           f"{info['squad']['dev_questions']}, XQuAD test {args.test_questions} questions x {len(info['xquad']['languages'])} languages")
    report(f"training: {args.steps} steps, batch {args.batch_size}, length {args.max_length}, fp32, 1 process; "
           f"learning rate full {args.lr['full']}, LoRA {args.lr['lora']}; LoRA {ARMS['lora']}; baseline (no intermediate)")
    report(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    results = []
    for arm in ARMS:
        cmd = [sys.executable, __file__, "--arm", arm, "--work", str(work), "--model-dir", model_dir,
               "--steps", str(args.steps), "--batch-size", str(args.batch_size), "--max-length", str(args.max_length)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        line = next((l for l in proc.stdout.splitlines() if l.startswith("RESULT ")), None)
        if line is None:
            raise RuntimeError(f"{arm} failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}")
        results.append(json.loads(line[len("RESULT "):]))
        report(f"load average after {arm}: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    report("")
    report(table(["arm", "trainable parameters", "peak RSS MiB", "s/step", "XQuAD F1", "XQuAD EM", "languages"],
                 [[r["arm"], f"{r['trainable']:,}", f"{r['peak_rss_mib']:.0f}", f"{r['s_per_step']:.2f}",
                   f"{r['f1']:.1f}", f"{r['em']:.1f}", r["languages"]] for r in results]))
    report.save("LoRA vs full fine-tuning, mE5-small, XQuAD")


if __name__ == "__main__":
    main()
