"""Spectral convergence: how far a magnitude spectrogram is from a reference one."""

from __future__ import annotations

import torch


def spectral_convergence(reference_mag: torch.Tensor, estimate_mag: torch.Tensor) -> torch.Tensor:
    """Returns || |S| - |S^| ||_F / || |S| ||_F per example, (...,) for magnitudes (..., F, T) (complex inputs: their
    absolute values). 0 is a perfect match; a silent reference gives inf (nan when the estimate is silent too)."""
    reference = reference_mag.abs().double()
    error = torch.linalg.matrix_norm(reference - estimate_mag.abs().double(), ord="fro")
    return (error / torch.linalg.matrix_norm(reference, ord="fro")).to(torch.float32)
