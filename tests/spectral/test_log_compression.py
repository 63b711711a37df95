import pytest
import torch

from spectrogen.spectral.compression import compress, decompress


@pytest.mark.parametrize("kind, smallest", [("log_eps", 1e-3), ("log1p", 0.0), ("db", 1e-5)])
def test_inverse_undoes_compression_is_never_negative_and_in_place_gives_the_same_values(kind, smallest):
    magnitude = torch.cat([torch.tensor([smallest]), torch.logspace(-3, 3, 200)])
    torch.testing.assert_close(decompress(compress(magnitude, kind), kind), magnitude, rtol=1e-5, atol=1e-7)
    assert decompress(torch.linspace(-200.0, 5.0, 50), kind).min() >= 0  # generated values too
    spectrogram = torch.rand(2, 16, 8, generator=torch.Generator().manual_seed(0)) * 40
    spectrogram[0, 0, 0] = 0.0
    # the same elementwise operations on the same values: equal bit for bit
    assert torch.equal(compress(spectrogram.clone(), kind, inplace=True), compress(spectrogram, kind))


def test_specgan_log_is_log_of_magnitude_plus_1e6():
    magnitude = torch.rand(3, 4, generator=torch.Generator().manual_seed(0)) * 10
    torch.testing.assert_close(compress(magnitude, "log_eps"), torch.log(magnitude + 1e-6))
    assert decompress(torch.log(torch.tensor(1e-6)), "log_eps") == 0  # silence comes back as zero
