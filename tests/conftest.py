"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The staged datasets: $XSTILTS_SHARED_DATA, else ../shared/data next to the repository root."""
    env = os.environ.get("XSTILTS_SHARED_DATA")
    path = Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"
    if not path.is_dir():
        pytest.skip("../shared/data is absent: real-data tests need the staged datasets (see README)")
    return path


@pytest.fixture(scope="session")
def fixtures() -> Path:
    """tests/fixtures: tiny files in the official formats, under their official names."""
    return FIXTURES
