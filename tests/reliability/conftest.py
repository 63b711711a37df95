"""Fixtures of the reliability tests: a tiny prepared data set and a tiny finished run."""

from pathlib import Path

import pytest

from common import run_cli
from reliability_helpers import make_npy_dataset, train_args


@pytest.fixture
def npy_data(tmp_path) -> Path:
    """A data set of 24 examples of 32 x 32 prepared from .npy files (the source folder is beside it)."""
    return make_npy_dataset(tmp_path)


@pytest.fixture
def finished_run(npy_data, tmp_path, capsys, quick_plots) -> Path:
    """A tiny DCGAN run of one epoch of two steps on `npy_data`."""
    run = tmp_path / "run"
    run_cli(train_args(npy_data, run, steps=2), capsys, ok=True)
    return run
