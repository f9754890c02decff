"""End-to-end wall time of a small real grid with xstilts' speed options on vs off.

The grid: one model (default mE5-small) x {baseline, SQuAD intermediate} x {XQuAD, UD POS, Tatoeba}, one seed,
fixed steps (SQuAD and XQuAD: --steps x 8 at length 256; UD: --steps x 16 at length 128), English dev scored
once at the end of each phase, XQuAD and UD test sets capped at --test examples per language (Tatoeba is
always scored whole: 1,000 pairs a language). Data: SQuAD v1.1 dev without
XQuAD's paragraphs, split by research_question.py's code; XQuAD, UD and Tatoeba as staged in ../shared.

Arms (everything else equal; each arm runs the whole grid from an empty output directory):
  on   embedding_optimizer: sparse, precision: auto (bf16 where the hardware has it), length_grouping,
       dropout_masks: auto (int16 on a CPU), feature cache (Arrow) and the retrieval embedding cache
  off  embedding_optimizer: dense, precision: no, no length grouping, dropout_masks: torch, no feature cache
       (the retrieval embedding cache lives in the feature cache, so it is off too)
With --reps 2 the order is on, off, off, on. Wall time counts Pipeline.run (data derivation excluded);
the headline scores per cell are printed so a speed-up that changed results would show.

    python benchmarks/grid_speed.py                      # mE5-small, ~10 min on 2 cores
    python benchmarks/grid_speed.py --model all-minilm-l6-v2 --steps 2 --test 8 --out ''   # smoke test
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from statistics import fmean

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, Report, resolve_model, spread, table  # noqa: E402
from research_question import prepare_squad_xquad, prepare_ud  # noqa: E402

XQUAD_LANGS = ["en", "ar", "de", "hi", "zh"]
UD_LANGS = ["en", "de", "fi", "ja", "zh"]
TATOEBA_LANGS = ["ar", "de", "hi", "zh"]
ARMS = {
    "on": ({"embedding_optimizer": "sparse", "precision": "auto", "length_grouping": True, "dropout_masks": "auto"},
           True),
    "off": ({"embedding_optimizer": "dense", "precision": "no", "length_grouping": False, "dropout_masks": "torch"},
            False),
}


def grid_config(model: str, data: dict, out: Path, steps: int, test: int, arm: str) -> dict:
    options, cache = ARMS[arm]
    qa = {"max_steps": steps, "eval_every": steps, "batch_size": 8, "max_length": 256, "learning_rate": 1e-4, **options}
    ud = {"max_steps": steps, "eval_every": steps, "batch_size": 16, "max_length": 128, "learning_rate": 1e-4, **options}
    return {"name": f"grid_speed_{arm}", "output_dir": str(out), "data_dir": str(DATA), "models": [model],
            "intermediate": [{"name": "baseline"}, {"name": "squad", "tasks": ["squad_v1"]}],
            "targets": ["xquad", "udpos", "tatoeba"], "seeds": [1],
            "data": {t: data[t] for t in ("squad_v1", "xquad", "udpos")},
            "languages": {"xquad": XQUAD_LANGS, "udpos": UD_LANGS, "tatoeba": TATOEBA_LANGS},
            "max_examples": {"test": test}, "task_training": {"squad_v1": qa, "xquad": qa, "udpos": ud},
            "retrieval": {"max_length": 128}, "device": "cpu", "feature_cache": cache}


def run_arm(config: dict) -> tuple[float, dict]:
    """Wall time of the whole grid, and (setting, target) -> headline score averaged over languages."""
    from xstilts.config import ExperimentConfig
    from xstilts.experiments.pipeline import Pipeline
    from xstilts.experiments.store import ResultsStore
    from xstilts.experiments.tables import headline

    started = time.perf_counter()
    Pipeline(ExperimentConfig.model_validate(config)).run()
    seconds = time.perf_counter() - started
    rows = ResultsStore(Path(config["output_dir"]) / "results.db").rows(latest=True)
    by_language = defaultdict(list)  # one model, one seed: headline's seed mean is the cell's score
    for (_, target, setting, _), value in headline(rows).items():
        by_language[(setting, target)].append(value)
    return seconds, {cell: fmean(values) for cell, values in by_language.items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="multilingual-e5-small")
    p.add_argument("--steps", type=int, default=16, help="optimizer steps per phase")
    p.add_argument("--test", type=int, default=100, help="test examples per language")
    p.add_argument("--reps", type=int, default=1)
    p.add_argument("--out", default="grid_speed", help="results/<out>.md ('' = don't write)")
    args = p.parse_args(argv)
    from xstilts.quiet import quiet_libraries
    from xstilts.training.precision import auto_precision

    quiet_libraries()
    model, model_desc = resolve_model(args.model)
    work = Path(tempfile.mkdtemp(prefix="grid_speed_"))
    sizes = {"squad_dev_q": 200, "ud_dev": 200, "xquad_q": args.test, "ud_test": args.test}
    data = {**prepare_squad_xquad(work / "data", sizes, {}), **prepare_ud(work / "data", sizes, {})}
    report = Report(args.out or "grid_speed_unsaved")
    report(f"model: {model_desc}; {args.steps} steps a phase; test: {args.test} per language; XQuAD {XQUAD_LANGS}, "
           f"UD {UD_LANGS}, Tatoeba {TATOEBA_LANGS}; precision auto here = {auto_precision('cpu')}")
    report(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    seconds, results = {a: [] for a in ARMS}, {}
    for rep in range(args.reps):
        for arm in list(ARMS) if rep % 2 == 0 else list(ARMS)[::-1]:
            s, scores = run_arm(grid_config(model, data, work / f"{arm}-{rep}", args.steps, args.test, arm))
            seconds[arm].append(s)
            results.setdefault(arm, scores)
            report(f"  rep {rep} {arm:3s} {s:7.1f} s  cells {len(scores)}  load {os.getloadavg()[0]:.2f}")
    report("")
    report(table(["arm", "wall s", "x vs off"], [[a, spread(seconds[a], "{:.1f}"),
                                                  spread([o / s for o, s in zip(seconds["off"], seconds[a])])]
                                                 for a in ARMS]))
    report("\nHeadline score per cell (language mean, first repetition):\n")
    cells = sorted(results["on"])
    report(table(["setting", "target", "on", "off"],
                 [[s, t, f"{results['on'][(s, t)]:.1f}", f"{results['off'].get((s, t), float('nan')):.1f}"] for s, t in cells]))
    report(f"\nload average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.out:
        report.save("End-to-end grid wall time: speed options on vs off")


if __name__ == "__main__":
    main()
