"""Exponential moving average of a network's weights, the copy that GAN sampling uses when it is kept."""

from __future__ import annotations

import copy

import torch
from torch import nn


def make_average(network: nn.Module) -> nn.Module:
    """Returns a frozen copy of `network` (no gradients, eval mode) to hold its moving average."""
    average = copy.deepcopy(network)
    average.requires_grad_(False)
    return average.eval()


def warmed_up_decay(decay: float, updates: int) -> float:
    """Returns the decay to use at the `updates`-th update (0-based): min(decay, (1 + n) / (10 + n)).

    Without the ramp, decay 0.999 still weighs the random initial weights by a half after 700
    updates, so a short run's average samples stay close to noise.
    """
    return min(decay, (1.0 + updates) / (10.0 + updates))


@torch.no_grad()
def update_average(average: nn.Module, network: nn.Module, decay: float) -> None:
    """Moves `average` towards `network`: p_avg <- decay * p_avg + (1 - decay) * p.

    Buffers (batch-norm running statistics) describe the current weights: they are copied, not averaged.
    """
    averaged = list(average.parameters())
    current = list(network.parameters())
    if len(averaged) != len(current):
        raise ValueError("the average and the network have different parameters")
    for kept, live in zip(averaged, current):
        kept.lerp_(live.detach(), 1.0 - decay)
    for kept, live in zip(average.buffers(), network.buffers()):
        kept.copy_(live)
