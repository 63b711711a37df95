"""Sinusoidal embedding of the diffusion timestep (Vaswani et al. 2017; Ho et al. 2020), and its MLP."""

from __future__ import annotations

import math

import torch
from torch import nn


def sinusoidal_embedding(timesteps: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Returns the (B, dim) embedding of (B,) timesteps: [sin(t*f_k) ..., cos(t*f_k) ...], plus a zero
    column for an odd `dim`. f_k falls geometrically from 1 to 1/max_period: the fast components tell
    neighbouring timesteps apart, the slow ones distant timesteps."""
    if timesteps.ndim != 1:
        raise ValueError(f"timesteps must be a 1-D tensor (B,), got shape {tuple(timesteps.shape)}")
    half = dim // 2
    exponents = torch.arange(half, device=timesteps.device, dtype=torch.float32) / half
    frequencies = torch.exp(-math.log(max_period) * exponents)  # (half,)
    angles = timesteps.float()[:, None] * frequencies[None, :]  # (B, half)
    embedding = torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)  # (B, 2*half)
    if dim % 2:
        embedding = nn.functional.pad(embedding, (0, 1))
    return embedding


class TimeEmbedding(nn.Module):
    """A sinusoidal positional encoding followed by a two-layer MLP: (B,) timesteps -> (B, out_dim)."""

    def __init__(self, sinusoid_dim: int, out_dim: int):
        super().__init__()
        self.sinusoid_dim = sinusoid_dim
        self.mlp = nn.Sequential(
            nn.Linear(sinusoid_dim, out_dim),
            nn.SiLU(),
            nn.Linear(out_dim, out_dim),
        )

    def forward(self, timesteps: torch.Tensor) -> torch.Tensor:
        return self.mlp(sinusoidal_embedding(timesteps, self.sinusoid_dim))  # (B, out_dim)
