"""Fixtures of the reliability tests: one thread, quick figures, and a tiny prepared data set."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from reliability_helpers import make_npy_dataset


@pytest.fixture(autouse=True)
def _one_thread():
    """Runs the tiny models on one thread: on busy cores a second one only adds OpenMP waits."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def quick_plots(monkeypatch):
    """Replaces the training figures with empty files of the same names (tests that do not look at them)."""
    from spectrogen.training import plots, trainer

    def write_names(history, plots_dir, *args, **kwargs):
        plots_dir.mkdir(parents=True, exist_ok=True)
        for name in plots.PLOT_NAMES:
            (plots_dir / name).write_bytes(b"")
        return [plots_dir / name for name in plots.PLOT_NAMES]

    monkeypatch.setattr(trainer, "write_plots", write_names)


@pytest.fixture
def npy_data(tmp_path) -> Path:
    """A data set of 24 examples of 32 x 32 prepared from .npy files (the source folder is beside it)."""
    return make_npy_dataset(tmp_path)
