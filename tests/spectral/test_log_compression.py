import pytest
import torch

from spectrogen.errors import ConfigError
from spectrogen.spectral.compression import LogCompression


@pytest.mark.parametrize("kind, smallest", [("log_eps", 1e-3), ("log1p", 0.0), ("db", 1e-5)])
def test_inverse_undoes_compression(kind, smallest):
    magnitude = torch.cat([torch.tensor([smallest]), torch.logspace(-3, 3, 200)])
    compression = LogCompression(kind)
    torch.testing.assert_close(compression.inverse(compression(magnitude)), magnitude, rtol=1e-5, atol=1e-7)


def test_specgan_log_is_log_of_magnitude_plus_1e6():
    magnitude = torch.rand(3, 4, generator=torch.Generator().manual_seed(0)) * 10
    torch.testing.assert_close(LogCompression("log_eps")(magnitude), torch.log(magnitude + 1e-6))
    # silence maps to log(1e-6) and back to exactly zero
    assert LogCompression("log_eps").inverse(torch.log(torch.tensor(1e-6))) == 0


def test_inverse_of_generated_values_is_never_negative():
    for kind in ("log_eps", "log1p", "db"):
        assert LogCompression(kind).inverse(torch.linspace(-200.0, 5.0, 50)).min() >= 0


def test_unknown_kind_names_the_key():
    with pytest.raises(ConfigError, match="representation.log"):
        LogCompression("log10")
