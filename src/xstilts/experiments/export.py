"""`xstilts export`: a stored cell's trained models as HuggingFace folders with a model card.

`intermediate/` is the encoder after the English intermediate task(s) (AutoModel); `target/` is the
fine-tuned target model: AutoModelForQuestionAnswering / AutoModelForTokenClassification where the
head is exactly HF's (one linear layer on the last hidden states), else the encoder plus the xstilts
head's weights in `xstilts_head.safetensors`.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import AutoModelForQuestionAnswering, AutoModelForTokenClassification

from ..config import load_config
from ..errors import XstiltsError
from ..modeling.lora import merged, with_lora
from ..modeling.model import load_encoder
from ..tasks.registry import family_of
from ..training.loop import BEST_WEIGHTS
from .cells import CellPlan
from .pipeline import Pipeline
from .store import ResultsStore

# head kind -> (HF class whose head is one linear layer like xstilts', that layer's attribute)
HF_HEADS = {"span_qa": (AutoModelForQuestionAnswering, "qa_outputs"),
            "tagging": (AutoModelForTokenClassification, "classifier")}
HEAD_FILE = "xstilts_head.safetensors"


def find_cell(run_dir: Path, key: str) -> tuple[Pipeline, CellPlan]:
    """The plan of the stored cell whose key starts with `key`, under the run's own config."""
    config_file = run_dir / "config.json"
    if not config_file.is_file():
        raise XstiltsError(f"{config_file}: not found (is {run_dir} the output_dir of a run?)")
    config = load_config(base=json.loads(config_file.read_text())["config"], overrides=[f"output_dir={run_dir}"])
    pipeline = Pipeline(config)
    matches = [cell for cell in pipeline.cells() if cell.key.startswith(key) and pipeline.store.has_cell(cell.key)]
    if len(matches) != 1:
        found = "no finished cell" if not matches else f"{len(matches)} cells"
        raise XstiltsError(f"{run_dir / 'results.db'}: {found} with a key starting {key!r} "
                           "(`xstilts results --all` lists the keys)")
    return pipeline, matches[0]


def model_card(cell: CellPlan, store: ResultsStore, what: str) -> str:
    """README.md: metadata header, then base model, intermediate task(s), data, settings and scores."""
    from huggingface_hub import ModelCard, ModelCardData

    tasks = list(cell.setting.tasks)
    local = Path(cell.model).exists()  # a local folder is not a Hub id the card can link
    data = ModelCardData(library_name="transformers", language=sorted(cell.languages), base_model=None if local else cell.model,
                         tags=["xstilts", "x-stilts", "zero-shot-cross-lingual", cell.spec.name, *tasks])
    scores = {}
    for row in store.rows(cell_keys=[cell.key]):
        scores.setdefault(row["language"], {})[row["metric"]] = row["value"]
    metrics = sorted({m for values in scores.values() for m in values})
    dev = [f"| {r['phase']} | {r['task']} | {r['metric']} | {r['value']:.2f} |" for r in store.dev_rows(cell_keys=[cell.key])]
    lines = [
        f"# {Path(cell.model).name}, intermediate setting {cell.setting.name}, target {cell.spec.name}: {what}", "",
        f"Trained with xstilts (X-STILTs, Phang et al. 2020): cell `{cell.key}`, seed {cell.seed}.", "",
        f"- base model: `{cell.model}`",
        f"- intermediate task(s): {', '.join(tasks) or 'none (baseline)'}",
        f"- target: {cell.spec.name} (English training, zero-shot in {len(cell.languages)} languages)",
        f"- data revisions: `{json.dumps(cell.config.get('data_provenance', 'not fetched with xstilts data fetch'))}`", "",
        "## Hyper-parameters", "", "```json", json.dumps({"intermediate": cell.phase.config.get("settings"),
                                                          **{k: cell.config[k] for k in ("target_training", "retrieval")
                                                             if k in cell.config}}, indent=1), "```", "",
        "## English dev (the selected checkpoints)", "", "| phase | task | metric | value |", "|---|---|---|---|", *dev, "",
        "## Zero-shot test per language", "", "| language | " + " | ".join(metrics) + " |", "|---|" + "---|" * len(metrics),
        *(f"| {lang} | " + " | ".join(f"{values.get(m, float('nan')):.2f}" for m in metrics) + " |"
          for lang, values in sorted(scores.items())),
    ]
    return str(ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(lines) + "\n"))


def _target_model(cell: CellPlan, encoder_path: str, labels: list[str] | None):
    """The fine-tuned model as an HF task model where one matches the head, else (encoder, head weights)."""
    encoder, tokenizer = load_encoder(encoder_path)
    encoder = with_lora(encoder, cell.settings.lora)  # the fine-tune's weights name the adapter's modules
    weights = torch.load(cell.finetune_dir / BEST_WEIGHTS, weights_only=True, map_location="cpu")
    encoder.load_state_dict({k.removeprefix("encoder."): v for k, v in weights.items() if k.startswith("encoder.")})
    encoder = merged(encoder)
    prefix = f"heads.{cell.spec.head_name}."
    head = {k.removeprefix(prefix): v for k, v in weights.items() if k.startswith(prefix)}
    kind = family_of(cell.spec).head_kind
    if kind not in HF_HEADS:
        return encoder, tokenizer, head
    auto, attribute = HF_HEADS[kind]
    config = encoder.config
    config.num_labels = head["out.weight"].shape[0]
    if labels and len(labels) == config.num_labels:
        config.id2label, config.label2id = dict(enumerate(labels)), {label: i for i, label in enumerate(labels)}
    hf = auto.from_config(config)
    missing, _ = hf.base_model.load_state_dict(encoder.state_dict(), strict=False)  # only the pooler is left out
    if missing:
        raise RuntimeError(f"encoder weights missing in {type(hf).__name__}: {missing[:3]}")
    getattr(hf, attribute).load_state_dict({k.removeprefix("out."): v for k, v in head.items()})
    return hf, tokenizer, None


def export_cell(run_dir: Path, key: str, to: Path) -> list[Path]:
    """Write the cell's intermediate encoder (if its setting trains one) and target model under `to`."""
    pipeline, cell = find_cell(run_dir, key)
    written = []
    encoder_path = str(cell.seed_dir / "intermediate" / "encoder") if cell.phase.trains else cell.model
    if cell.phase.trains:
        encoder, tokenizer = load_encoder(encoder_path)
        written.append(_save(to / "intermediate", encoder, tokenizer, model_card(cell, pipeline.store, "intermediate encoder")))
    if family_of(cell.spec).trains:
        model, tokenizer, head = _target_model(cell, encoder_path, pipeline.data.labels(cell.spec))
        folder = _save(to / "target", model, tokenizer, model_card(cell, pipeline.store, "fine-tuned target model"))
        if head is not None:
            save_file(head, folder / HEAD_FILE)
        written.append(folder)
    if not written:
        raise XstiltsError(f"cell {cell.key} trains nothing (a baseline retrieval cell): its model is {cell.model}")
    return written


def _save(folder: Path, model, tokenizer, card: str) -> Path:
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "README.md").write_text(card)
    return folder


def push_to_hub(folder: Path, repo: str) -> str:
    """Upload an exported folder to the Hub repo `repo` (created if needed); returns the commit URL."""
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(repo, exist_ok=True)
    return str(api.upload_folder(folder_path=str(folder), repo_id=repo, commit_message="xstilts export"))
