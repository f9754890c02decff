"""XTREME-protocol fidelity on the staged real data (issue 12), for mE5-small on 2 CPU cores.

1. Tatoeba, all 36 XTREME languages, no training: accuracy in XTREME's direction (English
   queries against the non-English side, the headline "accuracy") beside the other direction
   ("accuracy_xx_to_en"): the average and the largest per-language differences.
2. UD POS: mE5-small fine-tuned on English UD (EWT) for --steps steps, then zero-shot UD ja/zh
   F1 with each choice of the udpos task option label_subtoken: XTREME's "first_subtoken" and "first_with_characters".

Both run through xstilts' Pipeline, so cells are stored in <out>/results.db and a re-run skips them.

    python benchmarks/fidelity.py --out runs/fidelity              # every Tatoeba pair, 80 UD steps
    # what fit the shared 2 CPU cores for issue 12 (~15 min wall): the three parts as parallel processes,
    # then the report from their stored cells
    args="--out runs/fidelity --pairs 300 --steps 80 --test-sentences 200"
    for part in tatoeba first_subtoken first_with_characters; do
        OMP_NUM_THREADS=1 python benchmarks/fidelity.py $args --only $part & done; wait
    python benchmarks/fidelity.py $args
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path
from statistics import fmean

from _common import DATA, Report, resolve_model, table
from rich.console import Console

from xstilts.cli import quiet_libraries
from xstilts.config import ExperimentConfig
from xstilts.experiments.pipeline import Pipeline
from xstilts.tasks.registry import get_task

LABELLINGS = ("first_subtoken", "first_with_characters")
UD_TRAINING = {"batch_size": 32, "max_length": 128, "learning_rate": 1e-4}  # plus --steps; small for 2 CPU cores
UD_LANGS = ["ja", "zh"]


def metrics_by_lang(pipeline: Pipeline) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for row in pipeline.current_rows():
        out.setdefault(row["language"], {})[row["metric"]] = row["value"]
    return out


def tatoeba_sample(out: str, pairs: int) -> Path:
    """A data dir whose Tatoeba files hold the same seeded `pairs` line pairs of each XTREME language
    (all of them when a file has no more); retrieval reads a corpus whole, so the sample is made here."""
    root = Path(out) / f"tatoeba-{pairs}"
    spec = get_task("tatoeba")
    for lang in spec.languages:
        (xx_path, _), = spec.files(DATA, "test", lang)
        en_path = xx_path.with_suffix(".eng")
        xx, en = (path.read_text(encoding="utf-8").splitlines() for path in (xx_path, en_path))
        keep = sorted(random.Random(lang).sample(range(len(xx)), min(pairs, len(xx))))
        for path, lines in ((xx_path, xx), (en_path, en)):
            target = root / "tatoeba" / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("".join(lines[i] + "\n" for i in keep), encoding="utf-8")
    return root


def tatoeba(model: str, out: str, pairs: int, report: Report) -> None:
    data = DATA if pairs >= 1000 else tatoeba_sample(out, pairs)
    config = ExperimentConfig(name="fidelity-tatoeba", output_dir=out, data_dir=data, models=[model],
                              targets=["tatoeba"], retrieval={"batch_size": 32, "max_length": 128})
    pipeline = Pipeline(config, Console(quiet=True))
    pipeline.run()
    results = metrics_by_lang(pipeline)
    langs = list(get_task("tatoeba").languages)
    en_xx = [results[lang]["accuracy"] for lang in langs]
    xx_en = [results[lang]["accuracy_xx_to_en"] for lang in langs]
    layer = ", ".join(str(int(v)) for v in sorted({results[lang]["layer"] for lang in langs}))
    sample = "all pairs" if pairs >= 1000 else f"a seeded sample of {pairs} pairs per language (fewer candidates: higher accuracy than on all 1000)"
    report(f"## Tatoeba ({len(langs)} XTREME languages, {sample}; mean-pooled hidden state {layer}, max_length 128, no training)\n")
    report(table(["direction", "average accuracy"],
                 [["en -> xx: `accuracy` (XTREME's direction, headline)", f"{fmean(en_xx):.2f}"],
                  ["xx -> en: `accuracy_xx_to_en`", f"{fmean(xx_en):.2f}"],
                  ["difference (en -> xx minus xx -> en)", f"{fmean(en_xx) - fmean(xx_en):+.2f}"]]))
    by_gap = sorted(langs, key=lambda lang: -abs(results[lang]["accuracy"] - results[lang]["accuracy_xx_to_en"]))
    report("\nLargest per-language differences:\n")
    report(table(["language", "en -> xx (XTREME)", "xx -> en", "difference"],
                 [[lang, f"{results[lang]['accuracy']:.1f}", f"{results[lang]['accuracy_xx_to_en']:.1f}",
                   f"{results[lang]['accuracy'] - results[lang]['accuracy_xx_to_en']:+.1f}"] for lang in by_gap[:5]]))
    report("\nEvery language:\n")
    report(table(["language"] + langs, [["en -> xx"] + [f"{v:.1f}" for v in en_xx],
                                         ["xx -> en"] + [f"{v:.1f}" for v in xx_en]]))


def udpos(model: str, out: str, steps: int, test_sentences: int | None, report: Report, labellings=LABELLINGS) -> None:
    scores = {}
    for labelling in labellings:
        config = ExperimentConfig(
            name="fidelity-udpos", output_dir=out, data_dir=DATA, models=[model], targets=["udpos"],
            languages={"udpos": UD_LANGS}, max_examples={"dev": 100, **({"test": test_sentences} if test_sentences else {})},
            task_options={"udpos": {"label_subtoken": labelling}},
            target_training={"max_steps": steps, "eval_every": steps, **UD_TRAINING})
        pipeline = Pipeline(config, Console(quiet=True))
        pipeline.run()
        scores[labelling] = metrics_by_lang(pipeline)
    report(f"\n## UD POS: mE5-small fine-tuned on English UD (EWT train) for {steps} steps "
           f"({UD_TRAINING}, seed 1, English dev: 100 EWT sentences), zero-shot F1 on UD ja/zh test "
           f"({f'a seeded sample of {test_sentences} sentences each' if test_sentences else 'all sentences'})\n")
    report(table(["label_subtoken"] + [f"{lang} {metric}" for metric in ("F1", "accuracy") for lang in UD_LANGS],
                 [[f"`{labelling}`" + (" (XTREME)" if labelling == LABELLINGS[0] else "")]
                  + [f"{scores[labelling][lang][metric]:.1f}" for metric in ("f1", "accuracy") for lang in UD_LANGS]
                  for labelling in labellings]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/fidelity")
    parser.add_argument("--model", default="multilingual-e5-small")
    parser.add_argument("--steps", type=int, default=80, help="UD POS fine-tuning steps (per labelling choice)")
    parser.add_argument("--pairs", type=int, default=1000, help="Tatoeba pairs per language (1000: every file whole)")
    parser.add_argument("--test-sentences", type=int, help="cap on UD ja/zh test sentences (seeded sample)")
    parser.add_argument("--only", choices=("tatoeba",) + LABELLINGS,
                        help="run one part and store its cells, without writing the report")
    args = parser.parse_args()
    quiet_libraries()
    model, description = resolve_model(args.model)
    report = Report("fidelity")
    if args.only == "tatoeba":
        return tatoeba(model, args.out, args.pairs, report)
    if args.only:
        return udpos(model, args.out, args.steps, args.test_sentences, report, [args.only])
    report(f"- model: {description}\n- data: {DATA}\n")
    tatoeba(model, args.out, args.pairs, report)
    udpos(model, args.out, args.steps, args.test_sentences, report)
    report.save("XTREME-protocol fidelity: Tatoeba directions and ja/zh POS labelling (issue 12)")


if __name__ == "__main__":
    main()
