"""precision: auto resolves to what the machine runs natively, and the config records the choice."""

import numpy as np
import pytest

import xstilts.training.precision as precision
from xstilts.config import load_config

CPUINFO = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f {extra}\nbugs\t\t: none\n"


@pytest.mark.parametrize("extra, expected", [("", "no"), ("avx512_bf16", "bf16"), ("amx_bf16 amx_tile", "bf16")])
def test_auto_precision_on_cpu_follows_bf16_flags(tmp_path, monkeypatch, extra, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(CPUINFO.format(extra=extra))
    read_flags = precision.cpu_flags
    assert {"avx512f", *extra.split()} <= read_flags(cpuinfo) and "none" not in read_flags(cpuinfo)
    monkeypatch.setattr(precision, "cpu_flags", lambda: read_flags(cpuinfo))
    monkeypatch.setattr(precision.torch.cuda, "is_available", lambda: False)
    assert precision.auto_precision("cpu") == expected


def test_config_records_resolved_precision(monkeypatch):
    monkeypatch.setattr(precision, "auto_precision", lambda device: "bf16")
    config = load_config(base={"models": ["m"], "targets": ["xquad"], "device": "cpu",
                               "target_training": {"precision": "no"},
                               "task_training": {"udpos": {"learning_rate": 1e-4}, "xnli": {"precision": "auto"}}})
    assert config.intermediate_training.precision == "bf16"
    assert config.target_training.precision == "no"
    assert "precision" not in config.task_training["udpos"].model_fields_set  # still inherits target_training's
    assert config.task_training["xnli"].precision == "bf16"


def test_predict_logits_runs_at_the_given_precision_in_feature_order():
    """Evaluation autocasts at the run's precision itself (a fine-tune loaded from disk has no Accelerate
    wrapper), returns fp32 logits in feature order cut to each feature's length, and bf16 stays close to fp32."""
    import torch
    from datasets import Dataset
    from transformers import BertConfig, BertModel

    from xstilts.evaluation.predict import predict_logits
    from xstilts.modeling.model import MultiTaskModel

    torch.manual_seed(0)
    model = MultiTaskModel(BertModel(BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                                intermediate_size=64), add_pooling_layer=False))
    model.add_head("pos", "tagging", 5)
    ids = [[1] + [(7 * i + j) % 48 + 2 for j in range(n)] for i, n in enumerate([9, 3, 14, 5, 1, 11])]
    features = Dataset.from_dict({"input_ids": ids, "attention_mask": [[1] * len(row) for row in ids]})
    seen = []
    model.heads["pos"].out.register_forward_hook(lambda module, inputs, output: seen.append(output.dtype))
    fp32 = predict_logits(model, "pos", features, pad_token_id=0, batch_size=4, precision="no")
    bf16 = predict_logits(model, "pos", features, pad_token_id=0, batch_size=4, precision="bf16")
    assert seen == [torch.float32] * 2 + [torch.bfloat16] * 2  # two batches each
    with torch.no_grad():
        alone = [model("pos", input_ids=torch.tensor([row]))[1][0].numpy() for row in ids]
    for row, one, low in zip(ids, fp32, bf16):
        assert one.shape == low.shape == (len(row), 5) and low.dtype == one.dtype == np.float32
    assert max(abs(a - b).max() for a, b in zip(alone, fp32)) < 1e-5
    assert 0 < max(abs(a - b).max() for a, b in zip(fp32, bf16)) < 0.1
