import os

import pytest

# the suite runs on 2 CPU cores; more threads only add contention
os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(autouse=True)
def _torch_threads():
    import torch

    torch.set_num_threads(2)
    yield


@pytest.fixture
def one_thread():
    """Runs tiny models on one thread: on busy cores a second one only adds OpenMP waits.

    Folders of tiny-model tests request it from an autouse fixture of their conftest.
    """
    import torch

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
