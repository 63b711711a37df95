import os

import pytest

# the suite runs on 2 CPU cores; more threads only add contention
os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(autouse=True)
def _torch_threads():
    import torch

    torch.set_num_threads(2)
    yield
