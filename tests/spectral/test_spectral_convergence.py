import torch

from spectrogen.spectral.convergence import spectral_convergence


def test_one_relative_error_per_example_zero_when_equal_and_free_of_scale():
    generator = torch.Generator().manual_seed(0)
    reference, estimate = torch.rand(2, 3, 8, 5, generator=generator) + 0.1, torch.rand(2, 3, 8, 5, generator=generator)
    result = spectral_convergence(reference, estimate)
    assert result.shape == (2, 3)
    torch.testing.assert_close(result[1, 2], (reference - estimate)[1, 2].norm() / reference[1, 2].norm())
    assert torch.equal(spectral_convergence(reference, reference), torch.zeros(2, 3))
    torch.testing.assert_close(spectral_convergence(reference, 2 * reference), torch.ones(2, 3))
    torch.testing.assert_close(spectral_convergence(reference, torch.zeros_like(reference)), torch.ones(2, 3))
    # the same relative error at another overall scale gives the same number
    torch.testing.assert_close(result, spectral_convergence(100 * reference, 100 * estimate))


def test_complex_inputs_are_compared_by_magnitude():
    generator = torch.Generator().manual_seed(2)
    reference = torch.polar(torch.rand(4, 6, generator=generator) + 0.5, torch.rand(4, 6, generator=generator))
    rotated = reference * torch.polar(torch.ones(4, 6), torch.rand(4, 6, generator=generator))
    # a ratio of norms, so scale-free: the rotation changes each |z| by a few ulp
    torch.testing.assert_close(spectral_convergence(reference, rotated), torch.tensor(0.0), atol=1e-6, rtol=0)
