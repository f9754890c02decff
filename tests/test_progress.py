"""Long work shows progress on a terminal and prints nothing when output is piped (CI logs)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import rich
from rich.console import Console

from xstilts.evaluation.retrieval import mine_pairs
from xstilts.progress import track


@pytest.fixture
def screen(monkeypatch):
    """The global rich console, as a terminal or as a pipe, writing into a buffer."""
    def make(terminal: bool) -> io.StringIO:
        buffer = io.StringIO()
        monkeypatch.setattr(rich, "_console", Console(file=buffer, force_terminal=terminal, width=100))
        return buffer
    return make


def test_bar_on_a_terminal(screen):
    buffer = screen(terminal=True)
    assert list(track(["de", "es", "fr"], "evaluating xquad")) == ["de", "es", "fr"]
    shown = buffer.getvalue()
    assert "evaluating xquad" in shown and "3/3" in shown


def test_spinner_while_mining_on_a_terminal(screen):
    buffer = screen(terminal=True)
    emb = np.eye(4, dtype=np.float32)
    assert [(s, t) for s, t, _ in mine_pairs(emb, emb)] == [(0, 0), (1, 1), (2, 2), (3, 3)]
    assert "mining 4 x 4 sentences" in buffer.getvalue()


def test_nothing_when_piped(screen):
    buffer = screen(terminal=False)
    assert list(track(range(5), "evaluating xquad")) == list(range(5))
    assert buffer.getvalue() == ""
