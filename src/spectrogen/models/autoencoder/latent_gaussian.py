"""A full-covariance Gaussian fitted to the latent codes of one epoch, in one streaming pass.

The plain autoencoder has no prior; to let it `sample()` all the same, each epoch's training
latents are summarised by their mean and covariance and new spectrograms are decoded from draws
of that Gaussian. Sums stay on the device (no host sync inside the training step).
"""

from __future__ import annotations

import torch

# added to the covariance diagonal so that a rank-deficient epoch (fewer examples than latent
# dimensions, or collapsed dimensions) still has a Cholesky factor
_JITTER = 1e-5


class LatentGaussianFit:
    """Accumulates sums of latent codes (B, D) and returns their mean and Cholesky factor."""

    def __init__(self, latent_dim: int, device: torch.device):
        self.latent_dim = latent_dim
        self.device = device
        self.reset()

    def reset(self) -> None:
        # float64 sums: an epoch of thousands of codes loses precision in float32 (MPS has no float64)
        self.dtype = torch.float32 if self.device.type == "mps" else torch.float64
        self.count = torch.zeros((), dtype=self.dtype, device=self.device)
        self.total = torch.zeros(self.latent_dim, dtype=self.dtype, device=self.device)
        self.outer = torch.zeros(self.latent_dim, self.latent_dim, dtype=self.dtype, device=self.device)

    @torch.no_grad()
    def update(self, codes: torch.Tensor) -> None:
        """Adds a batch of latent codes (B, D) to the sums."""
        codes = codes.detach().to(self.dtype)
        self.count += codes.shape[0]
        self.total += codes.sum(dim=0)
        self.outer += codes.T @ codes

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"count": self.count, "total": self.total, "outer": self.outer}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.count = state["count"].to(self.device, self.dtype)
        self.total = state["total"].to(self.device, self.dtype)
        self.outer = state["outer"].to(self.device, self.dtype)

    def fitted(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Returns (mean (D,), lower Cholesky factor (D, D)) in float32, or None before two codes were seen."""
        count = float(self.count)
        if count < 2:
            return None
        mean = self.total / count
        covariance = (self.outer - count * torch.outer(mean, mean)) / (count - 1)
        covariance = 0.5 * (covariance + covariance.T)
        eye = torch.eye(self.latent_dim, dtype=self.dtype, device=self.device)
        scale = covariance.diagonal().mean().clamp_min(1.0)
        factor, info = torch.linalg.cholesky_ex(covariance + _JITTER * scale * eye)
        if int(info) != 0:  # numerically indefinite: fall back to the diagonal
            factor = torch.diag(covariance.diagonal().clamp_min(0.0).add(_JITTER * scale).sqrt())
        return mean.float(), factor.float()
