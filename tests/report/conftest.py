"""Fixtures of the report tests: one small finished run shared by the whole session."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from report_runs import prepare_engines, tiny_run_config
from spectrogen.training.api import train


@pytest.fixture(autouse=True)
def _one_thread():
    """Runs these tiny models on one thread: on busy cores a second one mostly adds OpenMP waits."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def engine_run(tmp_path_factory) -> Path:
    """Returns a finished two-epoch SpecGAN run on built-in engine sounds (its report written by training)."""
    root = tmp_path_factory.mktemp("engine_run")
    data = prepare_engines(root / "data")
    return train(tiny_run_config(data, root / "run"), quiet=True)
