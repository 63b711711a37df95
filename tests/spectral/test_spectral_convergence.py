import torch

from spectrogen.spectral.convergence import spectral_convergence


def test_identical_magnitudes_converge_to_zero_and_scaling_is_relative():
    generator = torch.Generator().manual_seed(0)
    reference = torch.rand(3, 16, 10, generator=generator) + 0.1
    assert torch.equal(spectral_convergence(reference, reference), torch.zeros(3))
    torch.testing.assert_close(spectral_convergence(reference, 2 * reference), torch.ones(3))
    torch.testing.assert_close(spectral_convergence(reference, torch.zeros_like(reference)), torch.ones(3))
    # the same relative error at another overall scale gives the same number
    noise = 0.1 * torch.rand(3, 16, 10, generator=generator)
    torch.testing.assert_close(spectral_convergence(reference, reference + noise),
                               spectral_convergence(100 * reference, 100 * (reference + noise)))


def test_one_value_per_example_matching_the_formula():
    generator = torch.Generator().manual_seed(1)
    reference, estimate = torch.rand(2, 3, 8, 5, generator=generator), torch.rand(2, 3, 8, 5, generator=generator)
    result = spectral_convergence(reference, estimate)
    assert result.shape == (2, 3)
    expected = (reference - estimate)[1, 2].norm() / reference[1, 2].norm()
    torch.testing.assert_close(result[1, 2], expected)


def test_complex_inputs_are_compared_by_magnitude():
    generator = torch.Generator().manual_seed(2)
    reference = torch.polar(torch.rand(4, 6, generator=generator) + 0.5, torch.rand(4, 6, generator=generator))
    rotated = reference * torch.polar(torch.ones(4, 6), torch.rand(4, 6, generator=generator))
    # a ratio of norms, so scale-free: the rotation changes each |z| by a few ulp (measured 3e-8)
    torch.testing.assert_close(spectral_convergence(reference, rotated), torch.tensor(0.0), atol=1e-6, rtol=0)
