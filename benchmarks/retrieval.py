"""BUCC-style mining at 100k x 100k on CPU: embedding time (measured sample, extrapolated) and
xstilts.evaluation.retrieval.mine_pairs (faiss exact inner product, k=4) time + peak RSS.

What is measured, exactly:
  1. embed: --sample random-text sentences (random vocabulary words, 5-30 words each) are embedded
     with xstilts.modeling.model.embed (mean pooling, last layer, batch 64, sorted by length) on CPU;
     the rate is extrapolated linearly to 2 x --n sentences (both sides). Embedding all 200k with
     MiniLM on this 2-core CPU does not fit the time box.
  2. mine: the full --n x --n mining with mine_pairs(src, trg, k=4) on random unit vectors of the
     model's hidden size (float32; faiss IndexFlatIP cost does not depend on the values). Timed as
     margin_scores (two kNN searches + margins) and the greedy 1:1 alignment.
Each measurement runs in its own subprocess; peak RSS is resource.getrusage(RUSAGE_SELF).ru_maxrss
of that subprocess, also taken just before the measured call (inputs already in memory).
Repetitions alternate embed / mine.

    python benchmarks/retrieval.py --n 100000 --sample 2000 --reps 2
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Report, resolve_model, spread, table  # noqa: E402


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def random_sentences(tokenizer, n: int, seed: int) -> list[str]:
    import numpy as np

    words = [w for w in tokenizer.get_vocab() if w.isalpha() and w.isascii() and len(w) >= 2]
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(words, rng.integers(5, 31))).capitalize() + "." for _ in range(n)]


def child_embed(args) -> dict:
    import torch

    from xstilts.modeling.model import embed, load_encoder

    if args.threads:
        torch.set_num_threads(args.threads)
    encoder, tokenizer = load_encoder(args.model_dir)
    texts = random_sentences(tokenizer, args.sample, args.seed)
    n_tokens = sum(len(ids) for ids in tokenizer(texts)["input_ids"])
    embed(encoder, tokenizer, texts[:64])  # warm-up batch (not timed)
    before = _rss_mib()
    t0 = time.perf_counter()
    out = embed(encoder, tokenizer, texts, batch_size=64)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "n": len(texts), "tokens": n_tokens, "dim": int(out.shape[1]),
            "rss_before_mib": before, "rss_peak_mib": _rss_mib()}


def child_mine(args) -> dict:
    import numpy as np

    from xstilts.evaluation import retrieval as R

    rng = np.random.default_rng(args.seed)
    src = rng.standard_normal((args.n, args.dim), dtype=np.float32)
    trg = rng.standard_normal((args.n, args.dim), dtype=np.float32)
    src /= np.linalg.norm(src, axis=1, keepdims=True)
    trg /= np.linalg.norm(trg, axis=1, keepdims=True)
    before = _rss_mib()
    timing = {}
    original = R.margin_scores

    def timed_margin_scores(*a, **kw):
        t = time.perf_counter()
        result = original(*a, **kw)
        timing["margin_scores"] = time.perf_counter() - t
        return result

    R.margin_scores = timed_margin_scores  # mine_pairs looks it up in the module namespace
    t0 = time.perf_counter()
    pairs = R.mine_pairs(src, trg, k=4)
    seconds = time.perf_counter() - t0
    import faiss

    return {"seconds": seconds, "margin_scores": timing.get("margin_scores", float("nan")),
            "greedy": seconds - timing.get("margin_scores", float("nan")), "pairs": len(pairs),
            "inputs_mib": (src.nbytes + trg.nbytes) / 2**20, "rss_before_mib": before, "rss_peak_mib": _rss_mib(),
            "faiss_threads": faiss.omp_get_max_threads()}


def run_child(kind: str, args) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, "--model-dir", args.model_dir, "--n", str(args.n),
           "--sample", str(args.sample), "--dim", str(args.dim), "--seed", str(args.seed), "--threads", str(args.threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"{kind} child failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="all-minilm-l6-v2")
    p.add_argument("--n", type=int, default=100_000, help="sentences per side")
    p.add_argument("--sample", type=int, default=2000, help="sentences actually embedded")
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch threads in the embed child (0 = default)")
    p.add_argument("--out", default="retrieval")
    p.add_argument("--child", choices=["embed", "mine"], help=argparse.SUPPRESS)
    p.add_argument("--model-dir", help=argparse.SUPPRESS)
    p.add_argument("--dim", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.child:
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
        print("RESULT " + json.dumps((child_embed if args.child == "embed" else child_mine)(args)), flush=True)
        return

    model_dir, model_desc = resolve_model(args.model)
    from transformers import AutoConfig

    args.model_dir, args.dim = model_dir, AutoConfig.from_pretrained(model_dir).hidden_size
    report = Report(args.out)
    report(f"model: {model_desc}")
    report(f"n = {args.n} per side, embedding sample {args.sample} sentences, dim {args.dim}, k = 4; "
           f"load average at start {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    emb, mine = [], []
    for rep in range(args.reps):
        for kind in (["embed", "mine"] if rep % 2 == 0 else ["mine", "embed"]):
            r = run_child(kind, args)
            (emb if kind == "embed" else mine).append(r)
            if kind == "embed":
                report(f"rep {rep} embed: {r['n']} sentences ({r['tokens'] / r['n']:.1f} tokens avg) in {r['seconds']:.1f} s "
                       f"= {r['n'] / r['seconds']:.0f} sent/s; peak RSS {r['rss_peak_mib']:.0f} MiB")
            else:
                report(f"rep {rep} mine: {args.n} x {args.n} in {r['seconds']:.1f} s (margin_scores {r['margin_scores']:.1f} s,"
                       f" greedy {r['greedy']:.1f} s), {r['pairs']} pairs; RSS before {r['rss_before_mib']:.0f} MiB, "
                       f"peak {r['rss_peak_mib']:.0f} MiB; faiss threads {r['faiss_threads']}")
    rate = [r["n"] / r["seconds"] for r in emb]
    extrapolated = [2 * args.n / x for x in rate]
    report("\n### results\n")
    report(table(["measurement", "median (min-max)"], [
        ["embedding rate, sentences/s (measured on the sample)", spread(rate, "{:.0f}")],
        [f"embedding {2 * args.n} sentences, s (EXTRAPOLATED from the sample)", spread(extrapolated, "{:.0f}")],
        ["embed child peak RSS, MiB (sample only)", spread([r["rss_peak_mib"] for r in emb], "{:.0f}")],
        [f"mine_pairs {args.n} x {args.n}, k=4, s (measured, random unit vectors)", spread([r["seconds"] for r in mine], "{:.1f}")],
        ["  of which margin_scores (2 faiss kNN searches), s", spread([r["margin_scores"] for r in mine], "{:.1f}")],
        ["  of which greedy 1:1 alignment, s", spread([r["greedy"] for r in mine], "{:.1f}")],
        ["mining child RSS before mine_pairs (inputs in memory), MiB", spread([r["rss_before_mib"] for r in mine], "{:.0f}")],
        ["mining child peak RSS, MiB", spread([r["rss_peak_mib"] for r in mine], "{:.0f}")],
        ["  peak minus before (mining's own), MiB", spread([r["rss_peak_mib"] - r["rss_before_mib"] for r in mine], "{:.0f}")],
        ["total embed (extrapolated) + mine, min", spread([(e + m["seconds"]) / 60 for e, m in zip(extrapolated, mine)], "{:.1f}")],
    ]))
    report(f"\ninputs to mining: 2 x {args.n} x {args.dim} float32 = {mine[0]['inputs_mib']:.0f} MiB")
    report.save(f"Retrieval: embed + mine {args.n} x {args.n} on CPU")


if __name__ == "__main__":
    main()
