"""Before any cell trains: every local model is found, every data file a config's cells read exists,
parses and carries gold labels (`data check`), and every MLM and label file is there.

A bad test file (encoding, columns, labels) then ends the run in seconds with its file:line,
instead of after the fine-tunes that precede its evaluation.
"""

from __future__ import annotations

from ..data.check import require_data
from ..modeling.model import check_model_path


def check_inputs(pipeline) -> None:
    config = pipeline.config
    for model in config.models:
        check_model_path(model)
    require_data(config)
    for setting in config.intermediate:
        phase = pipeline.planner.phase(setting)  # finds its MLM files
        for spec in phase.specs:
            if spec.label_file:
                pipeline.data.labels(spec, setting.data)
