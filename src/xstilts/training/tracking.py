"""What a training phase reports while it runs: a `run.log` file always, and the trackers that
`tracking.report_to` names (TensorBoard, W&B, MLflow) through Accelerate's `log_with`."""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from pathlib import Path

from ..config import TrackingSettings

logger = logging.getLogger("xstilts")
RUN_LOG = "run.log"
TRACKER_DIR = "trackers"


@contextmanager
def run_log(directory: Path):
    """While open, xstilts' log lines (and those of the phases below it) also go to `directory/run.log`."""
    directory.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(directory / RUN_LOG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        handler.close()


def tracker_options(tracking: TrackingSettings, phase_dir: Path) -> dict:
    """make_accelerator's keywords: the trackers to log with, writing under the phase directory."""
    if not tracking.report_to:
        return {}
    return {"log_with": list(tracking.report_to), "project_dir": str(phase_dir / TRACKER_DIR)}


def flat_hparams(tree: dict, prefix: str = "") -> dict[str, str | int | float | bool]:
    """A nested config as the flat scalars trackers take for run metadata ("a.b": value)."""
    flat = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flat_hparams(value, f"{name}."))
        else:
            flat[name] = value if isinstance(value, (str, int, float, bool)) else str(value)
    return flat


class PhaseLog:
    """Per-phase reporting of training loss, learning rate, tokens/s and the English dev metrics.
    Tokens/s counts training time only: the time of a dev evaluation is left out."""

    def __init__(self, accelerator, name: str, description: str, metadata: dict, every: int):
        self.accelerator, self.description, self.every = accelerator, description, every
        self.losses: list[float] = []
        self.tokens, self.seconds, self.mark = 0, 0.0, time.perf_counter()
        if accelerator.log_with:
            accelerator.init_trackers(name, config=flat_hparams(metadata),
                                      init_kwargs={"wandb": {"name": description}, "mlflow": {"run_name": description}})
        logger.info("%s: started (%s)", description, ", ".join(f"{k}={v}" for k, v in metadata.items() if k.endswith("key")))

    def step(self, step: int, last: int, loss: float, learning_rate: float, tokens: int) -> None:
        now = time.perf_counter()
        self.losses.append(loss)
        self.tokens, self.seconds, self.mark = self.tokens + tokens, self.seconds + now - self.mark, now
        if step % self.every and step != last:
            return
        values = {"train/loss": sum(self.losses) / len(self.losses), "train/learning_rate": learning_rate,
                  "train/tokens_per_s": self.tokens * self.accelerator.num_processes / max(self.seconds, 1e-9)}
        self._report(step, values)
        self.losses, self.tokens, self.seconds = [], 0, 0.0

    def evaluation(self, step: int, result: dict) -> None:
        values = {"dev/score": result["score"]}
        for task, metrics in result.get("metrics", {}).items():
            values.update({f"dev/{task}/{metric}": value for metric, value in metrics.items()})
        self._report(step, values)
        self.mark = time.perf_counter()  # the evaluation's time is not training time

    def _report(self, step: int, values: dict) -> None:
        if self.accelerator.log_with:
            self.accelerator.log(values, step=step)
        if self.accelerator.is_main_process:
            logger.info("%s step %d: %s", self.description, step, " ".join(f"{k}={v:.4g}" for k, v in values.items()))

    def close(self) -> None:
        logger.info("%s: finished", self.description)
        if self.accelerator.log_with:
            self.accelerator.end_training()
