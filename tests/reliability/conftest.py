"""Fixtures of the reliability tests: one thread, quick figures, and a tiny prepared data set."""

from __future__ import annotations

from pathlib import Path

import pytest

from reliability_helpers import make_npy_dataset


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test here runs on one thread (`one_thread` of tests/conftest.py)."""


@pytest.fixture
def npy_data(tmp_path) -> Path:
    """A data set of 24 examples of 32 x 32 prepared from .npy files (the source folder is beside it)."""
    return make_npy_dataset(tmp_path)
