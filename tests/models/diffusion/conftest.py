import pytest


@pytest.fixture(autouse=True)
def _one_torch_thread(_torch_threads):
    """Runs these tiny networks on one thread: for tensors this small a second thread only adds
    synchronisation, and on a busy machine its spin-waiting slows each step many times over."""
    import torch

    torch.set_num_threads(1)
    yield
