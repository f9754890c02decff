"""Cost of the word-embedding part of a training step: dense AdamW vs row-sparse AdamW vs frozen.

Only the embedding matrix of the model (mE5-small: 250k x 384) takes part: the real token ids of UD
English-EWT batches (seeded, batch 16) are looked up, a fixed random projection of the vectors is the
loss, and each arm runs what the xstilts loop runs for this matrix: backward, gradient clipping, the
optimizer step with a linear lr schedule, zero_grad. This isolates what the issue's profile attributed to
the embedding (dense gradient zeroing/accumulation, fused AdamW over 96M values, zero_grad, clipping).
At the end, the sparse arm's weights are caught up and compared with the dense arm's (same batches).
Arms alternate per repetition; the load average is printed per run.

    python benchmarks/embedding_step.py --model multilingual-e5-small --steps 20 --reps 3 --threads 1
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, Report, resolve_model, spread, table  # noqa: E402


def batches(tokenizer, steps: int, batch_size: int, seed: int):
    from xstilts.data.readers import read_conllu

    sentences = read_conllu(DATA / "ud" / "English-EWT" / "en_ewt-ud-train.conllu")
    rng = random.Random(seed)
    chosen = [rng.sample(sentences, batch_size) for _ in range(steps)]
    return [tokenizer([e.tokens for e in batch], is_split_into_words=True, padding=True, truncation=True,
                      max_length=256, return_tensors="pt")["input_ids"] for batch in chosen]


def run(arm: str, weight, ids_per_step, steps: int) -> tuple[float, object]:
    import torch
    from accelerate import Accelerator
    from transformers import get_linear_schedule_with_warmup

    from xstilts.training.sparse_adamw import RowSparseAdamW, clip_grad_norm

    embedding = torch.nn.Embedding.from_pretrained(weight.clone(), freeze=arm == "frozen", padding_idx=1)
    projection = torch.nn.Linear(weight.shape[1], 1)
    torch.manual_seed(0)
    torch.nn.init.normal_(projection.weight)
    groups = [{"params": [embedding.weight], "weight_decay": 0.01}, {"params": list(projection.parameters()), "weight_decay": 0.0}]
    sparse = [embedding] if arm == "sparse" else []
    optimizer = RowSparseAdamW(groups, embeddings=sparse, lr=1e-4, fused=True)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(0.1 * steps), steps)
    accelerator = Accelerator(cpu=True)
    t0 = time.perf_counter()
    for ids in ids_per_step:
        loss = projection(embedding(ids)).mean()
        loss.backward()
        clip_grad_norm(accelerator, [embedding.weight, *projection.parameters()], 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
    optimizer.catch_up()  # part of the sparse arm's cost: every row current, as before an evaluation
    return time.perf_counter() - t0, embedding.weight.detach()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="multilingual-e5-small")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0 = torch default); on a crowded "
                   "machine 1 avoids OpenMP barrier stalls that penalise many small ops")
    p.add_argument("--out", default="embedding_step")
    args = p.parse_args(argv)
    import torch
    from transformers import AutoModel, AutoTokenizer

    if args.threads:
        torch.set_num_threads(args.threads)
    model_dir, model_desc = resolve_model(args.model)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    weight = AutoModel.from_pretrained(model_dir).get_input_embeddings().weight.detach()
    ids = batches(tokenizer, args.steps, args.batch_size, args.seed)
    touched = [len(torch.unique(i)) for i in ids]
    report = Report(args.out)
    report(f"model: {model_desc}; embedding {tuple(weight.shape)}; {args.steps} steps x batch {args.batch_size}; "
           f"rows touched per step {min(touched)}-{max(touched)} (of {weight.shape[0]}); torch threads {torch.get_num_threads()}")
    report(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    arms = ["dense", "sparse", "frozen"]
    seconds, final = {a: [] for a in arms}, {}
    for rep in range(args.reps):
        for arm in arms if rep % 2 == 0 else arms[::-1]:
            s, final[arm] = run(arm, weight, ids, args.steps)
            seconds[arm].append(s)
            report(f"  rep {rep} {arm:7s} {s:6.2f} s  ({1000 * s / args.steps:.0f} ms/step)  load {os.getloadavg()[0]:.2f}")
    diff = (final["dense"] - final["sparse"]).abs().max().item()
    moved = (final["dense"] - weight).abs().max().item()
    report("")
    report(table(["arm", "seconds", "ms per step", "x vs dense"],
                 [[a, spread(seconds[a], "{:.2f}"), spread([1000 * s / args.steps for s in seconds[a]], "{:.0f}"),
                   spread([d / s for d, s in zip(seconds["dense"], seconds[a])])] for a in arms]))
    report(f"\nmax |dense - sparse| over the whole matrix after {args.steps} steps: {diff:.2e} "
           f"(largest change of a weight by training: {moved:.2e})")
    report(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    report.save("Word-embedding step cost: dense AdamW vs row-sparse AdamW vs frozen")


if __name__ == "__main__":
    main()
