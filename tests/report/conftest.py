"""Fixtures of the report tests: one small finished SpecGAN run shared by the whole session."""

from pathlib import Path

import pytest

from spectrogen.api import train

from report_runs import prepare_engines, tiny_run_config


@pytest.fixture(scope="session")
def engine_run(tmp_path_factory) -> Path:
    """Returns a finished two-epoch SpecGAN run on built-in engine sounds (its report written by training)."""
    root = tmp_path_factory.mktemp("engine_run")
    return train(tiny_run_config(prepare_engines(root / "data"), root / "run"), quiet=True)
