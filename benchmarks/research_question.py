"""X-STILTs research question on real data, sized for a 2-core CPU box.

Does English intermediate-task training (SQuAD v1.1, HellaSwag, CosmosQA, CommonsenseQA)
improve zero-shot cross-lingual transfer (XQuAD, UD POS, Tatoeba) over fine-tuning the plain
encoder, for a multilingual (mE5-small) and an English-only (MiniLM-L6) encoder?

The script (1) derives the training/dev/test files from /work/shared/data into a work dir
(official formats, never committed), (2) runs the grid as a sequence of pipeline phases that
share one SQLite store (finished cells are skipped on re-run, so an interrupted run resumes),
most important cells first, and (3) writes the markdown report and a CSV of all rows.

    python benchmarks/research_question.py --out runs/research_question            # 2 CPU cores, ~2 h
    python benchmarks/research_question.py --out /tmp/rq_quick --scale quick          # smoke test
    python benchmarks/research_question.py --out runs/research_question --report-only
    # the same study at paper scale on GPUs, e.g. XLM-R large vs RoBERTa large from the hub:
    python benchmarks/research_question.py --scale gpu --device cuda --models xlm-roberta-large,roberta-large \
        --out runs/rq_large
    # the same on every GPU of a node (one training process per GPU; data derived and reported once;
    # torchrun --standalone --nproc_per_node N works too, on GPUs or CPU processes):
    accelerate launch benchmarks/research_question.py --scale gpu --device cuda --models ... --out runs/rq_large
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from accelerate import PartialState

from xstilts.config import ExperimentConfig
from xstilts.data.retrieval_readers import TATOEBA_ISO3
from xstilts.experiments.pipeline import Pipeline
from xstilts.experiments.provenance import library_versions
from xstilts.experiments.store import ResultsStore
from xstilts.modeling.model_import import import_models
from xstilts.quiet import quiet_libraries
from xstilts.tasks.registry import get_task
from xstilts.training.loop import runs_on_cpu

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA  # noqa: E402  ../shared/data or $XSTILTS_SHARED_DATA
XQUAD_LANGS = "ar de el en es hi ru th tr vi zh".split()
UD_LANGS = "en de es fr ru zh ja fi tr vi id ko".split()
TATOEBA_LANGS = sorted(TATOEBA_ISO3)
NON_LATIN = {"ar", "bg", "bn", "el", "fa", "he", "hi", "ja", "ka", "kk", "ko", "ml", "mr", "ru", "ta", "te", "th", "ur", "zh"}
MODEL_NAMES = {"multilingual-e5-small": "mE5-small", "all-minilm-l6-v2": "MiniLM-L6"}
INTERMEDIATE = {"squad": "squad_v1", "hellaswag": "hellaswag", "cosmosqa": "cosmosqa", "commonsenseqa": "commonsenseqa"}
SPLIT_SEED = 0  # every derived split / subsample is drawn from this seed

# ---- sizes -------------------------------------------------------------------------------
FULL = dict(
    squad_dev_q=24, mc_dev=50, ud_dev=50,              # English dev (model selection / in-domain score)
    xquad_test_q=24, ud_test=100, tatoeba_pairs=100,    # zero-shot test subsamples
    seeds=[1, 2, 3],
    # Optimizer steps x batch were sized from a measured ~350 tokens/s (mE5-small) and ~800 tokens/s
    # (MiniLM-L6) of training on this machine, so that the whole grid fits about 2 hours.
    inter=dict(squad_v1=dict(max_steps=48, batch_size=8, max_length=256, learning_rate=1e-4),
               hellaswag=dict(max_steps=48, batch_size=4, max_length=128, learning_rate=1e-4),
               cosmosqa=dict(max_steps=48, batch_size=4, max_length=128, learning_rate=1e-4),
               commonsenseqa=dict(max_steps=48, batch_size=4, max_length=128, learning_rate=1e-4)),
    target=dict(xquad=dict(max_steps=48, batch_size=8, max_length=256, learning_rate=1e-4),
                udpos=dict(max_steps=64, batch_size=16, max_length=128, learning_rate=1e-4)),
    retrieval=dict(layer=-1, pooling="mean", max_length=64, batch_size=128),
    schedule=dict(eval_every=10_000, save_every=10_000),  # English dev scored once, at the end
)
# Paper-like: full test sets, epochs instead of step budgets, dev scored every epoch (GPUs, large models).
GPU = dict(
    squad_dev_q=1000, mc_dev=500, ud_dev=2001, xquad_test_q=1190, ud_test=10**9, tatoeba_pairs=1000, seeds=[1, 2, 3],
    inter=dict(squad_v1=dict(epochs=2, batch_size=16, max_length=384, learning_rate=1e-5),
               hellaswag=dict(epochs=2, batch_size=8, max_length=128, learning_rate=1e-5),
               cosmosqa=dict(epochs=2, batch_size=8, max_length=256, learning_rate=1e-5),
               commonsenseqa=dict(epochs=2, batch_size=8, max_length=128, learning_rate=1e-5)),
    target=dict(xquad=dict(epochs=2, batch_size=16, max_length=384, learning_rate=1e-5),
                udpos=dict(epochs=2, batch_size=32, max_length=128, learning_rate=1e-5)),
    retrieval=dict(layer=-1, pooling="mean", max_length=128, batch_size=256),
    schedule=dict(eval_every=None, save_every=2000),
)
QUICK = dict(
    squad_dev_q=8, mc_dev=8, ud_dev=8, xquad_test_q=4, ud_test=8, tatoeba_pairs=10, seeds=[1, 2],
    inter={k: {**v, "max_steps": 2, "batch_size": 2} for k, v in FULL["inter"].items()},
    target={k: {**v, "max_steps": 2, "batch_size": 2} for k, v in FULL["target"].items()},
    retrieval=FULL["retrieval"], schedule=FULL["schedule"],
)
SCALES = {"cpu": FULL, "gpu": GPU, "quick": QUICK}
SCALE_SUMMARY = {"cpu": "Subsampled run sized for 2 CPU cores (see Settings and the caveats below).",
                 "gpu": "Full test sets, epoch-based training.",
                 "quick": "Smoke test (2 steps a phase): its numbers mean nothing."}


# ---- derived data --------------------------------------------------------------------------
def _dump(path: Path, obj) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, ensure_ascii=False))
    return str(path)


def _squad_file(paragraphs_by_title: list[tuple[str, dict]]) -> dict:
    data, index = [], {}
    for title, paragraph in paragraphs_by_title:
        if title not in index:
            index[title] = len(data)
            data.append({"title": title, "paragraphs": []})
        data[index[title]]["paragraphs"].append(paragraph)
    return {"version": "1.1", "data": data}


def prepare_squad_xquad(work: Path, sizes: dict, info: dict) -> dict:
    squad = json.loads((DATA / "squad/dev-v1.1.json").read_text())
    xen = json.loads((DATA / "xquad/xquad.en.json").read_text())
    x_contexts = {p["context"].strip() for a in xen["data"] for p in a["paragraphs"]}
    x_ids = {q["id"] for a in xen["data"] for p in a["paragraphs"] for q in p["qas"]}
    keep, dropped = [], 0
    for article in squad["data"]:
        for p in article["paragraphs"]:
            if p["context"].strip() in x_contexts or any(q["id"] in x_ids for q in p["qas"]):
                dropped += 1
            else:
                keep.append((article["title"], p))
    # A paragraph is never split: dev / intermediate / target sets share no context.
    random.Random(f"{SPLIT_SEED}/squad").shuffle(keep)
    dev, i, n = [], 0, 0
    while n < sizes["squad_dev_q"]:
        dev.append(keep[i]); n += len(keep[i][1]["qas"]); i += 1
    rest = keep[i:]
    half = len(rest) // 2
    inter, target = rest[:half], rest[half:]
    q = lambda ps: sum(len(p["qas"]) for _, p in ps)
    info["squad"] = dict(paragraphs_total=sum(len(a["paragraphs"]) for a in squad["data"]), xquad_paragraphs_removed=dropped,
                         dev_paragraphs=len(dev), dev_questions=q(dev), intermediate_paragraphs=len(inter),
                         intermediate_questions=q(inter), target_paragraphs=len(target), target_questions=q(target))
    assert dropped == 240, f"expected 240 XQuAD paragraphs in SQuAD dev, found {dropped}"
    files = {"dev": _dump(work / "squad/dev.json", _squad_file(dev)),
             "inter": _dump(work / "squad/intermediate_train.json", _squad_file(inter)),
             "target": _dump(work / "squad/target_train.json", _squad_file(target))}
    # XQuAD test: the same question ids in every language
    ids = sorted(x_ids)
    chosen = set(random.Random(f"{SPLIT_SEED}/xquad").sample(ids, min(sizes["xquad_test_q"], len(ids))))
    for lang in XQUAD_LANGS:
        x = json.loads((DATA / f"xquad/xquad.{lang}.json").read_text())
        for a in x["data"]:
            for p in a["paragraphs"]:
                p["qas"] = [qa for qa in p["qas"] if qa["id"] in chosen]
            a["paragraphs"] = [p for p in a["paragraphs"] if p["qas"]]
        x["data"] = [a for a in x["data"] if a["paragraphs"]]
        _dump(work / f"xquad/xquad.{lang}.json", x)
    info["xquad"] = dict(test_questions_per_language=len(chosen), languages=XQUAD_LANGS)
    return {"squad_v1": {"train": files["inter"], "dev": files["dev"]},
            "xquad": {"train": files["target"], "dev": files["dev"], "test": str(work / "xquad/xquad.{lang}.json")}}


def _split(items: list, name: str, n_dev: int) -> tuple[list, list]:
    order = list(range(len(items)))
    random.Random(f"{SPLIT_SEED}/{name}").shuffle(order)
    return [items[i] for i in sorted(order[n_dev:])], [items[i] for i in sorted(order[:n_dev])]


def prepare_mc(work: Path, sizes: dict, info: dict) -> dict:
    out = {}
    # HellaSwag: the staged derived 6-line text format, blocks copied verbatim
    lines = (DATA / "hellaswag/hellaswag_val_full.txt").read_text(encoding="utf-8").split("\n")
    blocks = ["\n".join(lines[i:i + 6]) for i in range(0, len(lines) - len(lines) % 6, 6)]
    train, dev = _split(blocks, "hellaswag", sizes["mc_dev"])
    for split, rows in (("train", train), ("dev", dev)):
        path = work / f"hellaswag/hellaswag_{split}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
        out.setdefault("hellaswag", {})[split] = str(path)
    info["hellaswag"] = dict(source="hellaswag_val_full.txt (10,042 val)", train=len(train), dev=len(dev))
    # CosmosQA: official csv
    text = (DATA / "cosmosqa/valid.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header, body = rows[0], [r for r in rows[1:] if r]
    train, dev = _split(body, "cosmosqa", sizes["mc_dev"])
    for split, part in (("train", train), ("dev", dev)):
        path = work / f"cosmosqa/{split}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(part)
        out.setdefault("cosmosqa", {})[split] = str(path)
    info["cosmosqa"] = dict(source="valid.csv (2,985)", train=len(train), dev=len(dev))
    # CommonsenseQA: HF-schema jsonl
    body = [l for l in (DATA / "commonsenseqa/dev_rand_split.hf_schema.jsonl").read_text(encoding="utf-8").splitlines() if l.strip()]
    train, dev = _split(body, "commonsenseqa", sizes["mc_dev"])
    for split, part in (("train", train), ("dev", dev)):
        path = work / f"commonsenseqa/{split}_rand_split.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(part) + "\n", encoding="utf-8")
        out.setdefault("commonsenseqa", {})[split] = str(path)
    info["commonsenseqa"] = dict(source="dev_rand_split.hf_schema.jsonl (1,221)", train=len(train), dev=len(dev))
    return out


def _conllu_blocks(path: Path) -> list[str]:
    return [b.strip("\n") for b in path.read_text(encoding="utf-8").split("\n\n") if b.strip()]


def _write_conllu(path: Path, blocks: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n\n".join(blocks) + "\n\n", encoding="utf-8")


def prepare_ud(work: Path, sizes: dict, info: dict) -> dict:
    dev_blocks = _conllu_blocks(DATA / "ud/English-EWT/en_ewt-ud-dev.conllu")
    dev = sorted(random.Random(f"{SPLIT_SEED}/ud/dev").sample(range(len(dev_blocks)), min(sizes["ud_dev"], len(dev_blocks))))
    _write_conllu(work / "ud/en-dev.conllu", [dev_blocks[i] for i in dev])
    info["udpos"] = dict(train="UD_English-EWT train (all 12,544 sentences; max_steps x batch drawn)",
                         dev=len(dev), test_sentences={})
    for lang in UD_LANGS:
        blocks = [b for p in sorted(DATA.glob(f"ud/*/{lang}_*-ud-test.conllu")) for b in _conllu_blocks(p)]
        k = min(sizes["ud_test"], len(blocks))
        keep = sorted(random.Random(f"{SPLIT_SEED}/ud/{lang}").sample(range(len(blocks)), k))
        _write_conllu(work / f"ud/{lang}-test.conllu", [blocks[i] for i in keep])
        info["udpos"]["test_sentences"][lang] = k
    return {"udpos": {"train": str(DATA / "ud/English-EWT/en_ewt-ud-train.conllu"), "dev": str(work / "ud/en-dev.conllu"),
                      "test": str(work / "ud/{lang}-test.conllu")}}


def prepare_tatoeba(work: Path, sizes: dict, info: dict) -> dict:
    for lang in TATOEBA_LANGS:
        iso = TATOEBA_ISO3[lang]
        src = (DATA / f"tatoeba/tatoeba.{iso}-eng.{iso}").read_text(encoding="utf-8").rstrip("\n").split("\n")
        eng = (DATA / f"tatoeba/tatoeba.{iso}-eng.eng").read_text(encoding="utf-8").rstrip("\n").split("\n")
        assert len(src) == len(eng)
        keep = sorted(random.Random(f"{SPLIT_SEED}/tatoeba/{lang}").sample(range(len(src)), min(sizes["tatoeba_pairs"], len(src))))
        out = work / "tatoeba"
        out.mkdir(parents=True, exist_ok=True)
        (out / f"tatoeba.{iso}-eng.{iso}").write_text("\n".join(src[i] for i in keep) + "\n", encoding="utf-8")
        (out / f"tatoeba.{iso}-eng.eng").write_text("\n".join(eng[i] for i in keep) + "\n", encoding="utf-8")
    info["tatoeba"] = dict(pairs_per_language=sizes["tatoeba_pairs"], languages=len(TATOEBA_LANGS))
    return {"tatoeba": {"test": str(work / "tatoeba/tatoeba.{lang3}-eng.{lang3}")}}


def derive_data(work: Path, sizes: dict, info: dict) -> dict:
    """Every task's derived files under `work`: task -> split -> path (template); counts go to `info`."""
    return {**prepare_squad_xquad(work, sizes, info), **prepare_mc(work, sizes, info),
            **prepare_ud(work, sizes, info), **prepare_tatoeba(work, sizes, info)}


# ---- the grid as phases ----------------------------------------------------------------------
def base_config(models, data, sizes, out: Path, device: str | None) -> dict:
    return dict(
        name="research_question", output_dir=str(out), data_dir=str(DATA), models=models, data=data,
        languages={"xquad": XQUAD_LANGS, "udpos": UD_LANGS, "tatoeba": TATOEBA_LANGS},
        max_examples={},  # every subsample is done in the derived files (same items for every language)
        intermediate_training=sizes["schedule"], target_training=sizes["schedule"],
        task_training={**sizes["inter"], **sizes["target"]},
        retrieval=sizes["retrieval"], device=device, feature_cache=True)


def setting(name: str) -> dict:
    return {"name": name, "tasks": [INTERMEDIATE[name]] if name in INTERMEDIATE else []}


def phases(sizes: dict, models: list[str]) -> list[tuple[str, dict]]:
    MINI_FIRST = sorted(models, key=lambda m: 'e5' in m)
    s1, s2, both = sizes["seeds"][:1], sizes["seeds"][:2], sizes["seeds"]
    claim = [setting("baseline"), setting("squad")]
    others = [setting(n) for n in ("hellaswag", "cosmosqa", "commonsenseqa")]
    # Most decisive and cheapest first; within a phase the pipeline goes model -> setting -> seed -> target.
    # The English-only MiniLM (about 4x cheaper per step) goes first so both models get each comparison early.
    return [
        ("tatoeba baseline", dict(intermediate=[setting("baseline")], targets=["tatoeba"], seeds=s1)),
        ("claim: udpos baseline/squad seed 1", dict(intermediate=claim, targets=["udpos"], seeds=s1, models=MINI_FIRST)),
        ("claim: xquad baseline/squad seed 1", dict(intermediate=claim, targets=["xquad"], seeds=s1, models=MINI_FIRST)),
        ("claim: udpos baseline/squad more seeds", dict(intermediate=claim, targets=["udpos"], seeds=both, models=MINI_FIRST)),
        ("claim: xquad baseline/squad more seeds", dict(intermediate=claim, targets=["xquad"], seeds=both, models=MINI_FIRST)),
        ("claim: tatoeba squad", dict(intermediate=[setting("squad")], targets=["tatoeba"], seeds=both, models=MINI_FIRST)),
        ("other intermediates: udpos", dict(intermediate=others, targets=["udpos"], seeds=s2, models=MINI_FIRST)),
        ("other intermediates: tatoeba", dict(intermediate=others, targets=["tatoeba"], seeds=s2, models=MINI_FIRST)),
        ("other intermediates: xquad", dict(intermediate=others, targets=["xquad"], seeds=s2, models=MINI_FIRST)),
    ]


# ---- report ----------------------------------------------------------------------------------
def collect(store: ResultsStore):
    """(model, target, setting) -> {lang: {seed: headline score}} (the registry's headline, x100)."""
    metrics = defaultdict(dict)
    for row in store.rows(latest=True):
        metrics[(row["model"], row["target"], row["intermediate"], row["language"], row["seed"])][row["metric"]] = row["value"]
    scores = defaultdict(lambda: defaultdict(dict))
    for (model, target, setting, lang, seed), by_metric in metrics.items():
        scores[(model, target, setting)][lang][seed] = get_task(target).headline_value(by_metric)
    return scores


def _std(values):
    return statistics.stdev(values) if len(values) > 1 else None


def significant(base: list[float], other: list[float], base_std_fallback: float | None):
    """Rule: a gain exceeds seed noise when |mean diff| > 2 x pooled seed std AND (with >=2 seeds on
    both sides) the [min, max] ranges over seeds do not overlap. A single-seed setting borrows the
    baseline's seed std as its noise estimate (no range test possible). None: noise unknown."""
    diff = statistics.mean(other) - statistics.mean(base)
    stds = [s for s in (_std(base), _std(other)) if s is not None]
    if not stds:
        sigma = base_std_fallback
        if sigma is None:
            return None
    else:
        sigma = math.sqrt(sum(s * s for s in stds) / len(stds))
    if abs(diff) <= 2 * sigma:
        return False
    if len(base) > 1 and len(other) > 1:
        return max(base) < min(other) or max(other) < min(base)
    return True


def fmt(values):
    if not values:
        return "-"
    m = statistics.mean(values)
    return f"{m:.1f}" + (f"±{statistics.stdev(values):.1f}" if len(values) > 1 else "")


def english_dev_scores(store: ResultsStore) -> list[str]:
    """English dev headline (the model-selection score) of every training phase, as stored with each cell:
    shows whether a phase learned anything at this step budget."""
    metrics = defaultdict(dict)  # one entry per phase run: targets of a (model, setting, seed) share phase 1
    for row in store.dev_rows():
        phase_run = row["seed"] if row["phase"] == "intermediate" else (row["seed"], row["target"])
        metrics[(row["model"], row["intermediate"], row["phase"], row["task"], phase_run)][row["metric"]] = row["value"]
    scores = defaultdict(list)  # (model, setting, phase task) -> [score per seed]
    for (model, setting, phase, task, _), by_metric in sorted(metrics.items()):
        label = MODEL_NAMES.get(Path(model).name, Path(model).name)
        scores[(label, setting, f"{phase} {task}")].append(get_task(task).headline_value(by_metric))
    if not scores:
        return []
    lines = ["## English dev scores of each training phase", "",
             "The score each phase selects on (the task's headline), mean over seeds; "
             "phase-2 rows are the target fine-tune that follows the named intermediate setting.", "",
             "| model | setting | phase | English dev | seeds |", "|---|---|---|---|---|"]
    for (model, setting, phase), values in sorted(scores.items()):
        lines.append(f"| {model} | {setting} | {phase} | {fmt(values)} | {len(values)} |")
    return lines + [""]


def report(run_dir: Path, stem: Path, info: dict, command: str, wall: dict, scale: str, device: str):
    sizes, out_md, out_csv = SCALES[scale], stem.with_suffix(".md"), stem.with_suffix(".csv")
    store = ResultsStore(run_dir / "results.db")
    scores = collect(store)
    rows = store.rows(latest=True)
    store.export_csv(out_csv, latest=True)
    models = sorted({m for m, _, _ in scores}, key=lambda m: ("e5" not in m, m))
    order = ["baseline", "squad", "hellaswag", "cosmosqa", "commonsenseqa"]
    lines = ["# X-STILTs research question: English intermediate tasks -> zero-shot transfer", ""]
    lines += ["Does English intermediate-task training help zero-shot cross-lingual transfer, for a multilingual "
              "(mE5-small) and an English-only (MiniLM-L6) encoder? " + SCALE_SUMMARY[scale], ""]
    lines += ["Scores are x100 (XQuAD F1, UD POS F1, Tatoeba top-1 accuracy xx->en); `a±b` = mean ± std over seeds "
              "(seed counts in the summary table). Δ = setting − the same model's baseline. "
              "`*` = exceeds seed noise: |Δ| > 2 × pooled seed std AND, where both sides have ≥2 seeds, the min–max ranges over "
              "seeds do not overlap; a single-seed setting uses the baseline's seed std as its noise; `?` = noise unknown "
              "(e.g. Tatoeba baseline is deterministic and the setting has one seed).", ""]
    summary = []
    for target in ("xquad", "udpos", "tatoeba"):
        lines += [f"## {target} ({get_task(target).headline_name})", ""]
        for model in models:
            settings = [s for s in order if (model, target, s) in scores]
            if not settings:
                continue
            langs = sorted({l for s in settings for l in scores[(model, target, s)]})
            label = MODEL_NAMES.get(Path(model).name, Path(model).name)
            lines += [f"### {label}", ""]
            head = ["lang"] + [c for s in settings for c in ([s] if s == "baseline" else [s, f"Δ {s}"])]
            lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

            def seeds_avg(s):
                per = scores[(model, target, s)]
                seeds = sorted({sd for l in langs for sd in per.get(l, {})})
                return {sd: statistics.mean(per[l][sd] for l in langs if sd in per.get(l, {})) for sd in seeds
                        if all(sd in per.get(l, {}) for l in langs)}

            for lang in langs + ["avg"]:
                row = [f"**{lang}**" if lang == "avg" else lang]
                if lang == "avg":
                    vals = {s: list(seeds_avg(s).values()) for s in settings}
                else:
                    vals = {s: list(scores[(model, target, s)].get(lang, {}).values()) for s in settings}
                base = vals.get("baseline", [])
                for s in settings:
                    row.append(fmt(vals[s]))
                    if s == "baseline":
                        continue
                    if base and vals[s]:
                        d = statistics.mean(vals[s]) - statistics.mean(base)
                        sig = significant(base, vals[s], _std(base))
                        row.append(f"{d:+.1f}" + {True: "*", False: "", None: "?"}[sig])
                        if lang == "avg":
                            summary.append((target, label, s, statistics.mean(base), statistics.mean(vals[s]), d, sig,
                                            len(base), len(vals[s])))
                    else:
                        row.append("-")
                lines.append("| " + " | ".join(row) + " |")
            lines.append("")
    # condensed summary
    lines[4:4] = (["## Summary (language averages)", "",
                   "| target | model | setting | baseline | setting | Δ | exceeds noise | seeds (base/setting) |",
                   "|---|---|---|---|---|---|---|---|"]
                  + [f"| {t} | {m} | {s} | {b:.1f} | {v:.1f} | {d:+.1f} | {({True: 'yes', False: 'no', None: 'unknown'})[g]} | {nb}/{nv} |"
                     for t, m, s, b, v, d, g, nb, nv in summary] + [""])
    # Tatoeba sanity
    tat = {MODEL_NAMES.get(Path(m).name, m): scores.get((m, "tatoeba", "baseline"), {}) for m in models}
    if all(tat.values()) and len(tat) == 2:
        avg = lambda d, keep: statistics.mean(v for l, s in d.items() if keep(l) for v in s.values())
        e5, mini = tat.get("mE5-small", {}), tat.get("MiniLM-L6", {})
        if e5 and mini:
            nl_e5, nl_mini = avg(e5, lambda l: l in NON_LATIN), avg(mini, lambda l: l in NON_LATIN)
            la_e5, la_mini = avg(e5, lambda l: l not in NON_LATIN), avg(mini, lambda l: l not in NON_LATIN)
            ok = nl_e5 > nl_mini + 20
            lines += ["## Tatoeba before any training (sanity check)", "",
                      "| model | non-Latin-script langs | Latin-script langs | all 36 |", "|---|---|---|---|",
                      f"| mE5-small | {nl_e5:.1f} | {la_e5:.1f} | {avg(e5, lambda l: True):.1f} |",
                      f"| MiniLM-L6 | {nl_mini:.1f} | {la_mini:.1f} | {avg(mini, lambda l: True):.1f} |", "",
                      f"Non-Latin: {', '.join(sorted(NON_LATIN))}. Sanity (mE5 > MiniLM by >20 points on non-Latin scripts): "
                      f"**{'PASS' if ok else 'FLAG - mE5-small is not far above MiniLM on non-Latin scripts'}**.", ""]
    lines += english_dev_scores(store)
    # settings
    lines += ["## Settings", "", "Data derived into the work dir (official formats; seeded with split seed "
              f"{SPLIT_SEED}; never committed):", "", "```json", json.dumps(info, indent=1), "```", "",
              "* SQuAD: the 240 XQuAD paragraphs are identified in SQuAD v1.1 dev by exact context match or shared "
              "question id with xquad.en.json and removed. The remaining paragraphs are shuffled (seeded); the first "
              "ones (until the dev question count is reached) form the English dev set used for model selection in both "
              "phases; the rest is split 50/50 by paragraph: one half is the SQuAD intermediate-task train set, the other "
              "the XQuAD target train set. No paragraph is in two sets and no XQuAD context is trained on.",
              "* HellaSwag / CosmosQA / CommonsenseQA: only their dev sets are staged; each is split by a seeded "
              "shuffle into a dev part (first N of the permutation) and a train part (the rest).",
              "* XQuAD test: the same seeded subset of question ids in all 11 languages. UD test: a seeded sentence "
              "subset per language (all staged test treebanks of the language; ar/hi absent). Tatoeba: a seeded subset "
              "of pairs per language (same lines for every encoder); retrieval is xx->en top-1 cosine.",
              "* Training uses max_steps x batch_size examples drawn by the pipeline's seeded sampler from the train "
              "file; the English dev set is scored once at the end (eval_every larger than the run).", "",
              "Per-task training settings (phase 1 = intermediate, phase 2 = target):", "", "```json",
              json.dumps({"intermediate": sizes["inter"], "target": sizes["target"], "retrieval": sizes["retrieval"],
                          "seeds": sizes["seeds"], "warmup_ratio": 0.1, "weight_decay": 0.01,
                          "precision": "fp32" if device == "cpu" else "auto (bf16 where supported)", "device": device},
                         indent=1), "```", "",
              f"Seeds: {sizes['seeds']} for baseline and SQuAD (the claim cells), the first two for HellaSwag, "
              "CosmosQA and CommonsenseQA; the Tatoeba baseline needs no seed (no training).", ""]
    if scale != "gpu":
        lines += ["## What was cut to fit the time box (read before trusting any number)", "",
                  "* Each phase is a fixed, small step budget (see Settings), sized from measured training speed on 2 CPU "
                  "cores (mE5-small ~350 tokens/s, MiniLM-L6 ~800 tokens/s). The English dev table above shows how far each "
                  "phase got; nothing is converged, so a gain here means intermediate training helped at this budget, "
                  "not the paper's converged effect.",
                  f"* Test sets are subsampled: XQuAD {sizes['xquad_test_q']} questions in each of 11 languages, UD "
                  f"{sizes['ud_test']} sentences per language, Tatoeba {sizes['tatoeba_pairs']} pairs per language "
                  "(retrieval among fewer candidates is easier, so Tatoeba accuracies are higher than on the full ~1000 pairs).",
                  f"* English dev sets are small ({sizes['squad_dev_q']}+ SQuAD questions, {sizes['mc_dev']} MC examples, "
                  f"{sizes['ud_dev']} UD sentences) and scored once at the end of each phase: no early stopping.",
                  "* Seeds vary the training order and the fresh heads; data subsamples are fixed (split seed "
                  f"{SPLIT_SEED}), so seed spread does not include test-sample noise. The untrained Tatoeba baseline has "
                  "no seed spread at all, so its rule uses only the setting's spread: a Tatoeba |Δ| below 1 point "
                  f"(under {len(TATOEBA_LANGS) * sizes['tatoeba_pairs'] // 100} of {len(TATOEBA_LANGS) * sizes['tatoeba_pairs']} test sentences) "
                  "is no effect even when marked.",
                  "* Chance on the English MC dev sets is 25 (HellaSwag, CosmosQA; 4 endings/answers) and 20 "
                  "(CommonsenseQA; 5). An intermediate phase that stays near chance taught the encoder little, and "
                  "its target deltas should be read as noise.", ""]
    lines += ["## Reproduce", "", "```bash", command, "```", "",
              f"Wall time: {sum(wall.values()) / 60:.0f} min in all; per phase (s): "
              + ", ".join(f"{k}: {v:.0f}" for k, v in wall.items()), "",
              f"Cells in store: {len({r['cell_key'] for r in rows})}; rows: {len(rows)} (CSV: `{out_csv.name}`).", "",
              "## Library versions", "", "```json", json.dumps(library_versions(), indent=1), "```", ""]
    out_md.write_text("\n".join(lines))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/research_question", help="output dir (results.db, checkpoints, derived data)")
    ap.add_argument("--device", default="cpu", help="cpu, cuda, ... (None = Accelerate's choice)")
    ap.add_argument("--scale", choices=list(SCALES), default="cpu",
                    help="cpu: sized for 2 CPU cores (~2 h); gpu: full test sets, epochs; quick: smoke test")
    ap.add_argument("--models", default=None,
                    help="comma-separated HF ids or dirs (default: mE5-small and MiniLM-L6 from `xstilts models import`)")
    ap.add_argument("--report-only", action="store_true", help="only rebuild the report from the store")
    ap.add_argument("--phases", default=None, help="comma-separated phase indices to run (default all)")
    ap.add_argument("--results", default=None, help="report path stem (default benchmarks/results/research_question[_SCALE]; quick: in --out)")
    args = ap.parse_args(argv)
    quiet_libraries()  # per-file bars from the libraries would bury the phase log
    sizes = SCALES[args.scale]
    out = Path(args.out).resolve()
    # A smoke test's report stays in its run dir; real scales go to the committed results folder.
    results_dir = out if args.scale == "quick" else Path(__file__).parent / "results"
    default_stem = "research_question" + ("" if args.scale == "cpu" else f"_{args.scale}")
    stem = Path(args.results) if args.results else results_dir / default_stem
    stem.parent.mkdir(parents=True, exist_ok=True)
    # the run that fills the store (a --report-only call reports the command of the run it reads)
    state = PartialState(cpu=runs_on_cpu(args.device))  # one process, or one per device under accelerate launch / torchrun
    launcher = "accelerate launch" if state.num_processes > 1 else "python"
    command = (f"{launcher} benchmarks/research_question.py --out {args.out} --scale {args.scale} --device {args.device}"
               + (f" --models {args.models}" if args.models else ""))
    work = out / "derived_data"
    if args.report_only:
        if not state.is_main_process:
            return
        # same deterministic derivation (for the report's counts), without touching the run's files
        work = Path(tempfile.mkdtemp(prefix="rq_report_"))
    derived = work / "derived.json"
    if state.is_main_process:  # derive data and import models once; the other ranks read what it wrote
        info: dict = {}
        data = derive_data(work, sizes, info)
        if args.models:
            models = args.models.split(",")
        else:
            paths = import_models()
            models = [str(paths["multilingual-e5-small"]), str(paths["all-minilm-l6-v2"])]
        _dump(derived, {"info": info, "data": data, "models": models})
    state.wait_for_everyone()
    derived_run = json.loads(derived.read_text())
    info, data, models = derived_run["info"], derived_run["data"], derived_run["models"]
    wall_file = out / "wall_seconds.json"
    wall = json.loads(wall_file.read_text()) if wall_file.exists() else {}
    if not args.report_only:
        selected = set(int(i) for i in args.phases.split(",")) if args.phases else None
        for i, (name, phase) in enumerate(phases(sizes, models)):
            if selected is not None and i not in selected:
                continue
            started = time.time()
            state.print(f"=== phase {i}: {name} ===", flush=True)
            config = ExperimentConfig.model_validate({**base_config(models, data, sizes, out, args.device), **phase})
            Pipeline(config).run()
            if state.is_main_process:
                wall[f"{i} {name}"] = wall.get(f"{i} {name}", 0.0) + time.time() - started
                wall_file.write_text(json.dumps(wall, indent=1))
                report(out, stem, info, command, wall, args.scale, args.device)
            state.print(f"=== phase {i} done in {time.time() - started:.0f}s ===", flush=True)
    if state.is_main_process:
        report(out, stem, info, command, wall, args.scale, args.device)
        print(f"report: {stem.with_suffix('.md')}")


if __name__ == "__main__":
    main()
