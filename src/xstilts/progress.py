"""Progress of long work (feature building, per-language evaluation, embedding, mining, data fetch)
on an interactive terminal; nothing at all when output is piped or logged, so CI logs stay readable."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterable, Iterator, TypeVar

from rich import get_console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

T = TypeVar("T")


def _progress(*columns) -> Progress:
    console = get_console()  # the console the training bar uses: bars nest below it instead of interleaving
    return Progress(*columns, TimeElapsedColumn(), console=console, transient=True, disable=not console.is_terminal)


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Yield `items` with a bar (count of total) while the consumer works on each."""
    total = total if total is not None else len(items) if hasattr(items, "__len__") else None
    with _progress(TextColumn(f"[bold]{description}"), BarColumn(), MofNCompleteColumn()) as progress:
        bar = progress.add_task(description, total=total)
        for item in items:
            yield item
            progress.advance(bar)


@contextmanager
def working(description: str):
    """A spinner for one step whose parts are not counted (a tokenizer call over a whole split)."""
    with _progress(SpinnerColumn(), TextColumn(description)) as progress:
        progress.add_task(description, total=None)
        yield
