import torch

from spectrogen.spectral.convergence import spectral_convergence


def test_identical_magnitudes_converge_to_zero_and_scaling_is_relative():
    reference = torch.rand(3, 16, 10) + 0.1
    assert torch.equal(spectral_convergence(reference, reference), torch.zeros(3))
    torch.testing.assert_close(spectral_convergence(reference, 2 * reference), torch.ones(3))
    torch.testing.assert_close(spectral_convergence(reference, torch.zeros_like(reference)), torch.ones(3))
    # the same relative error at another overall scale gives the same number
    noise = 0.1 * torch.rand(3, 16, 10)
    torch.testing.assert_close(spectral_convergence(reference, reference + noise),
                               spectral_convergence(100 * reference, 100 * (reference + noise)))


def test_one_value_per_example_matching_the_formula():
    reference, estimate = torch.rand(2, 3, 8, 5), torch.rand(2, 3, 8, 5)
    result = spectral_convergence(reference, estimate)
    assert result.shape == (2, 3)
    expected = (reference - estimate)[1, 2].norm() / reference[1, 2].norm()
    torch.testing.assert_close(result[1, 2], expected)


def test_complex_inputs_are_compared_by_magnitude():
    reference = torch.polar(torch.rand(4, 6) + 0.5, torch.rand(4, 6))
    rotated = reference * torch.polar(torch.ones(4, 6), torch.rand(4, 6))
    torch.testing.assert_close(spectral_convergence(reference, rotated), torch.tensor(0.0), atol=1e-6, rtol=0)
