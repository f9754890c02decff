"""Feature cache: cache miss (read + tokenise + Arrow save) vs cache hit (memory-mapped load_from_disk).

Uses xstilts.data.features.cached_features exactly as the pipeline does, on
  - SQuAD v1.1 dev (all questions), span-QA features at max length 384 (stride 128), and
  - UD English-EWT train (all sentences), tagging features at max length 256.
Each repetition builds into a fresh cache directory (miss) and then loads it again (hit); misses
and hits alternate so background load affects both. The miss is split into read / featurise /
Dataset.from_dict + save_to_disk + load_from_disk. The hit is also shown with the cache-key cost
(tokenizer and file fingerprints, as Pipeline.features computes them) and with a first full pass
over input_ids (what training does first: sequence_lengths), since a memory-mapped load alone
reads almost nothing.

    python benchmarks/feature_cache.py --reps 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, Report, resolve_model, spread, table  # noqa: E402


def arrow_lengths(dataset) -> list[int]:
    """Suggested sequence_lengths fast path (1-D features): list lengths computed by Arrow,
    honouring an indices mapping (select/shuffle), no Python lists of token ids."""
    import pyarrow.compute as pc

    column = dataset.with_format("arrow")[:]["input_ids"]
    return pc.list_value_length(column).to_numpy().tolist()


def datasets_to_bench():
    from xstilts.data.readers import read_conllu, read_squad_json
    from xstilts.tasks.tagging import UPOS_TAGS

    return [
        ("SQuAD v1.1 dev", "squad_v1", DATA / "squad" / "dev-v1.1.json", read_squad_json, 384, None),
        ("EWT train", "udpos", DATA / "ud" / "English-EWT" / "en_ewt-ud-train.conllu", read_conllu, 256, list(UPOS_TAGS)),
    ]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="all-minilm-l6-v2", help="whose tokenizer (see throughput.py --model)")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--out", default="feature_cache")
    args = p.parse_args(argv)

    import datasets
    from transformers import AutoTokenizer

    datasets.disable_progress_bars()
    root = Path(tempfile.mkdtemp(prefix="xstilts-bench-fcache-"))
    os.environ["XSTILTS_CACHE"] = str(root / "init")
    from xstilts.data import features as F
    from xstilts.tasks.registry import family_of, get_task

    model_dir, model_desc = resolve_model(args.model)
    report = Report(args.out)
    report(f"tokenizer: {model_desc}")
    report(f"cache under {root} (fresh directory per miss); load average at start "
           f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")

    summary = []
    for label, task, path, reader, max_length, labels in datasets_to_bench():
        family = family_of(get_task(task))
        miss, hit, hit_key, hit_pass, parts = [], [], [], [], {"read": [], "featurise": [], "arrow": []}
        lens_py, lens_arrow = [], []
        n_examples = n_features = size = 0
        for rep in range(args.reps):
            tokenizer = AutoTokenizer.from_pretrained(model_dir)  # fresh object: fingerprint not memoised
            os.environ["XSTILTS_CACHE"] = str(root / f"{task}-{rep}")

            def key():
                return {"task": task, "split": "x", "files": F.file_fingerprint([path]),
                        "tokenizer": F.tokenizer_fingerprint(tokenizer), "max_length": max_length, "labels": labels}

            timings = {}

            def build():
                t0 = time.perf_counter()
                examples = reader(path)
                t1 = time.perf_counter()
                cols = family.featurize(examples, tokenizer, max_length, labels)
                timings.update(read=t1 - t0, featurise=time.perf_counter() - t1, n=len(examples))
                return cols

            # miss: key + build + from_dict + save_to_disk + load_from_disk
            t0 = time.perf_counter()
            ds = F.cached_features(key(), build)
            miss.append(time.perf_counter() - t0)
            parts["read"].append(timings["read"])
            parts["featurise"].append(timings["featurise"])
            parts["arrow"].append(miss[-1] - timings["read"] - timings["featurise"])
            n_examples, n_features = timings["n"], len(ds)
            size = sum(f.stat().st_size for f in Path(os.environ["XSTILTS_CACHE"]).rglob("*") if f.is_file())
            del ds

            # hit, as the pipeline sees it: fresh tokenizer object -> fingerprint, then load_from_disk
            tokenizer = AutoTokenizer.from_pretrained(model_dir)
            t0 = time.perf_counter()
            k = key()
            t1 = time.perf_counter()
            ds = F.cached_features(k, build)
            t2 = time.perf_counter()
            F.sequence_lengths(ds)
            t3 = time.perf_counter()
            assert len(ds) == n_features
            t4 = time.perf_counter()
            fast = arrow_lengths(ds)
            t5 = time.perf_counter()
            slow = F.sequence_lengths(ds)  # second call: pages already cached
            t6 = time.perf_counter()
            assert fast == slow
            lens_arrow.append(t5 - t4)
            lens_py.append(t6 - t5)
            hit.append(t2 - t1)
            hit_key.append(t2 - t0)
            hit_pass.append(t3 - t0)
            del ds
            report(f"[{label}] rep {rep}: miss {miss[-1]:.2f} s (read {timings['read']:.2f}, featurise "
                   f"{timings['featurise']:.2f}, arrow {parts['arrow'][-1]:.2f}); hit {hit[-1] * 1000:.1f} ms, "
                   f"+key {hit_key[-1] * 1000:.1f} ms, +first pass {hit_pass[-1] * 1000:.1f} ms")
        ratio = [m / h for m, h in zip(miss, hit)]
        ratio_key = [m / h for m, h in zip(miss, hit_key)]
        ratio_pass = [m / h for m, h in zip(miss, hit_pass)]
        report(f"\n### {label}: {n_examples} examples -> {n_features} features at max length {max_length}, "
               f"{size / 2**20:.1f} MiB on disk\n")
        report(table(["measure", "seconds, median (min-max)"], [
            ["miss total (read + featurise + from_dict/save/load)", spread(miss)],
            ["  read file", spread(parts["read"])],
            ["  featurise (tokenise + labels)", spread(parts["featurise"])],
            ["  Dataset.from_dict + save_to_disk + load_from_disk", spread(parts["arrow"])],
            ["hit: load_from_disk (memory-mapped)", spread(hit, "{:.4f}")],
            ["hit + cache key (tokenizer/file fingerprints)", spread(hit_key, "{:.4f}")],
            ["hit + key + first pass over input_ids", spread(hit_pass, "{:.4f}")],
            ["sequence_lengths (library: Python lists of all token ids)", spread(lens_py, "{:.4f}")],
            ["lengths via pyarrow.compute.list_value_length (suggested)", spread(lens_arrow, "{:.4f}")],
        ]))
        report(f"\nmiss / hit: x{spread(ratio, '{:.0f}')}; including the key: x{spread(ratio_key, '{:.0f}')}; "
               f"including a first pass: x{spread(ratio_pass, '{:.0f}')}\n")
        summary.append([label, max_length, n_features, spread(miss), spread(hit, "{:.4f}"), spread(hit_key, "{:.4f}"),
                        f"x{spread(ratio, '{:.0f}')}", f"x{spread(ratio_key, '{:.0f}')}"])

    # What the key costs per tokenizer (Pipeline.features computes it on every call, memoised per object).
    fp_rows = []
    for name in ("all-minilm-l6-v2", "multilingual-e5-small"):
        try:
            mdir, _ = resolve_model(name)
            tok = AutoTokenizer.from_pretrained(mdir)
            t0 = time.perf_counter()
            F.tokenizer_fingerprint(tok)
            t1 = time.perf_counter()
            F.tokenizer_fingerprint(tok)
            fp_rows.append([name, f"{(t1 - t0) * 1000:.0f} ms", f"{(time.perf_counter() - t1) * 1e6:.0f} us"])
        except Exception as err:  # noqa: BLE001
            fp_rows.append([name, f"failed: {err}", "-"])
    report("### summary\n")
    report(table(["data", "max len", "features", "miss s", "hit s", "hit + key s", "miss/hit", "miss/(hit+key)"], summary))
    report("\ntokenizer_fingerprint cost (first call on a new tokenizer object / memoised):\n")
    report(table(["tokenizer", "first call", "memoised"], fp_rows))
    shutil.rmtree(root, ignore_errors=True)
    report.save("Feature cache: miss (tokenise + save Arrow) vs hit (memory-mapped load)")


if __name__ == "__main__":
    main()
