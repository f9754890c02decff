"""precision: auto resolves to what the machine runs natively, and the config records the choice."""

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
