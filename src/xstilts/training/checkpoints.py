"""Integrity of what training leaves on disk: resumable checkpoints and finished phases.

Every file is listed with its size and sha256 when written, and checked before it is used. A damaged
checkpoint is named and its phase restarts from step 0 (the batch schedule is drawn from the seed, so
the result equals an uninterrupted run); a damaged finished phase is named and trained again. Nothing
resumes silently: Accelerate itself only logs "Could not load random states" at INFO and goes on with
other random state, which would store different results as complete.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import torch

from ..data.features import file_sha256
from ..errors import XstiltsError

logger = logging.getLogger(__name__)
MANIFEST = "MANIFEST.json"
DONE = "DONE"                     # a finished phase: its manifest, written last
TRAINER_STATE = "trainer_state.json"
DISK_FULL_BYTES = 16 << 20        # below this much free space a failed write is reported as a full disk


def manifest(directory: Path) -> dict[str, list]:
    """{file name: [size, sha256]} of the directory's top-level files (checkpoints and encoders are flat)."""
    return {p.name: [p.stat().st_size, file_sha256(p)] for p in sorted(directory.iterdir())
            if p.is_file() and p.name not in (MANIFEST, DONE)}


def damage(directory: Path, listing: Path) -> str | None:
    """Why `directory` differs from the manifest in `listing`; None when every listed file is intact."""
    try:
        listed = json.loads(listing.read_text())
    except FileNotFoundError:
        return f"{listing} is missing (written by an older xstilts, or its save was cut short)"
    except (ValueError, UnicodeDecodeError):
        return f"{listing} is unreadable"
    for name, (size, digest) in listed.items():
        path = directory / name
        if not path.is_file():
            return f"{path} is missing"
        if path.stat().st_size != size:
            return f"{path} has {path.stat().st_size} bytes where {size} were written (truncated?)"
        if file_sha256(path) != digest:
            return f"{path} differs from the file that was written"
    return None


def seal_checkpoint(directory: Path) -> None:
    """Called on a fully written checkpoint, before it replaces the previous one."""
    (directory / MANIFEST).write_text(json.dumps(manifest(directory)))


def mark_finished(directory: Path) -> None:
    """A phase's output is complete: DONE holds the manifest of its files."""
    (directory / DONE).write_text(json.dumps(manifest(directory)))


def is_finished(directory: Path) -> bool:
    """DONE is there and every file it lists is intact. A damaged phase is named, unmarked and trained again."""
    done = directory / DONE
    if not done.exists():
        return False
    if not done.read_bytes():
        return True  # an older xstilts wrote an empty DONE: nothing to check against
    problem = damage(directory, done)
    if problem:
        logger.warning("finished phase %s is damaged: %s; training it again", directory, problem)
        done.unlink(missing_ok=True)
        return False
    return True


@contextmanager
def _random_state_failures():
    """Records Accelerate's "Could not load random states" (an INFO log, not an exception)."""
    failures: list[str] = []

    class Catch(logging.Handler):
        def emit(self, record):
            if "Could not load random states" in record.getMessage():
                failures.append(record.getMessage())

    source, handler = logging.getLogger("accelerate.checkpointing"), Catch()
    level = source.level
    source.setLevel(logging.INFO)
    source.addHandler(handler)
    try:
        yield failures
    finally:
        source.removeHandler(handler)
        source.setLevel(level)


def resume(checkpoint: Path, accelerator, scheduler) -> dict | None:
    """The trainer state of an intact checkpoint, loaded into the model, optimizer, scheduler and RNGs;
    None when there is none to resume, or when it is damaged (then it is named and removed: restart)."""
    if not (checkpoint / TRAINER_STATE).exists():
        return None
    problem = damage(checkpoint, checkpoint / MANIFEST)
    accelerator.wait_for_everyone()  # every rank has checked before the main rank removes anything
    if problem:
        logger.warning("checkpoint %s is damaged: %s; restarting this phase from step 0", checkpoint, problem)
        if accelerator.is_main_process:
            shutil.rmtree(checkpoint)
        accelerator.wait_for_everyone()
        return None
    with _random_state_failures() as failures:
        accelerator.load_state(str(checkpoint))
    if failures:  # the weights are loaded already: too late to restart in this process
        raise XstiltsError(f"{checkpoint}: Accelerate could not load its random states; remove this folder "
                           "to restart the phase from step 0")
    scheduler.load_state_dict(torch.load(checkpoint / "scheduler.pt", weights_only=True))
    return json.loads((checkpoint / TRAINER_STATE).read_text())


@contextmanager
def writing(path: Path):
    """A failed write names `path` and says when the disk is full, instead of torch's
    "[enforce fail at inline_container.cc]"; other failures keep their traceback."""
    try:
        yield
    except (OSError, RuntimeError) as err:
        full = getattr(err, "errno", None) == errno.ENOSPC or shutil.disk_usage(_existing(path)).free < DISK_FULL_BYTES
        if full:
            raise XstiltsError(f"{path}: disk full while writing; free space and rerun (the run resumes)") from None
        raise


def _existing(path: Path) -> Path:
    while not path.exists():
        path = path.parent
    return path


def save_atomic(obj, path: Path) -> None:
    """torch.save that never leaves a truncated file under the final name."""
    partial = path.with_name(path.name + ".partial")
    with writing(path):
        try:
            torch.save(obj, partial)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        os.replace(partial, path)
