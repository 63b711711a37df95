import pytest
import torch


@pytest.fixture
def one_thread():
    """Runs tiny models on one thread: a second one only adds OpenMP waits, and stalls on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
