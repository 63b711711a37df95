"""The magnitude and log fast paths used without autograd give the values of the plain ones."""

import pytest
import torch

from spectrogen.spectral.compression import compress
from spectrogen.spectral.stft import complex_magnitude


def test_magnitude_without_autograd_is_abs_to_one_unit_in_the_last_place():
    torch.manual_seed(0)
    spec = torch.complex(torch.randn(4, 129, 50) * 30, torch.randn(4, 129, 50) * 30)
    spec[0, 0, :3] = 0
    fast, plain = complex_magnitude(spec), spec.abs()
    assert fast.dtype == plain.dtype and fast.shape == plain.shape
    # elementwise, no reduction: both are within about one float32 ulp of |z| on any CPU
    torch.testing.assert_close(fast, plain, rtol=2.5e-7, atol=0.0)
    assert torch.equal(fast[0, 0, :3], torch.zeros(3))


def test_magnitude_with_autograd_keeps_the_gradient_of_abs():
    generator = torch.Generator().manual_seed(0)
    spec = torch.complex(torch.randn(3, 5, generator=generator), torch.randn(3, 5, generator=generator))
    spec.requires_grad_()
    complex_magnitude(spec).sum().backward()
    expected = spec.detach() / spec.detach().abs()
    torch.testing.assert_close(spec.grad, expected)


@pytest.mark.parametrize("kind", ["log_eps", "log1p", "db"])
def test_in_place_compression_gives_the_same_values(kind):
    magnitude = torch.rand(2, 16, 8, generator=torch.Generator().manual_seed(0)) * 40
    magnitude[0, 0, 0] = 0.0
    expected = compress(magnitude, kind)
    # the same elementwise operations on the same values, no reduction: equal bit for bit
    assert torch.equal(compress(magnitude.clone(), kind, inplace=True), expected)
