"""Read every data file a config's cells will read, and find every local model, before any cell trains.

A bad test file (encoding, columns, labels) then ends the run in seconds with its file:line,
instead of after the fine-tunes that precede its evaluation.
"""

from __future__ import annotations

from ..modeling.model import check_model_path
from ..tasks.registry import family_of, get_task


def check_inputs(pipeline) -> None:
    """Read (and so validate) each split of each task once, as the phases will read it."""
    config = pipeline.config
    for model in config.models:
        check_model_path(model)
    reads = {}  # (task, split, lang, overrides) -> how the phase reads it
    for setting in config.intermediate:
        for task in setting.tasks:
            spec = get_task(task)
            for split in spec.sources:
                reads[(task, split, "en", str(pipeline.data.overrides(task, setting.data)))] = (spec, split, "en", setting.data)
            if spec.label_file:
                pipeline.data.labels(spec, setting.data)
        pipeline.planner.phase(setting)  # finds its MLM files
    for target in config.targets:
        spec = get_task(target)
        languages = config.languages.get(target, list(spec.languages))
        for split in spec.sources:
            for lang in languages if split == "test" or not family_of(spec).trains else ["en"]:
                reads[(target, split, lang, str(pipeline.data.overrides(target)))] = (spec, split, lang, None)
        if spec.label_file:
            pipeline.data.labels(spec)
    for spec, split, lang, extra in reads.values():
        if not family_of(spec).trains:  # a retrieval corpus (file pair), read whole by its reader
            for path, reader in spec.files(config.data_dir, split, lang, pipeline.data.overrides(spec.name, extra)):
                reader(path)
        else:
            spec.read(config.data_dir, split, lang, pipeline.data.overrides(spec.name, extra))
