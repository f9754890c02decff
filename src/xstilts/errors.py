"""Errors that the CLI turns into a one-line message instead of a traceback."""

from __future__ import annotations

from pathlib import Path


class XstiltsError(Exception):
    """Base class for user-facing errors (bad input, unknown names)."""


class DataFormatError(XstiltsError):
    """A data file does not match its official format."""

    def __init__(self, path: str | Path, line: int | None, message: str):
        self.path, self.line = Path(path), line
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")


class UnknownNameError(XstiltsError):
    """A task, model, metric or setting name that is not registered."""

    def __init__(self, kind: str, name: str, choices):
        super().__init__(f"unknown {kind} {name!r}; valid choices: {', '.join(sorted(choices))}")
