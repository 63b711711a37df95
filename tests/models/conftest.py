import pytest


@pytest.fixture(autouse=True)
def _tiny_networks_on_one_thread(one_thread):
    """Every model here is tiny: a second thread only adds OpenMP waits on busy cores."""
