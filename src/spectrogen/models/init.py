"""The weight initialisation of DCGAN (Radford et al. 2016), used by every GAN family here."""

from __future__ import annotations

from torch import nn

INIT_STD = 0.02

_WEIGHTED = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)
_NORMS = (nn.BatchNorm2d, nn.BatchNorm1d)


def init_gan_weights(network: nn.Module) -> nn.Module:
    """Returns `network` re-initialised in place: conv/linear/embedding weights N(0, 0.02), BN weights N(1, 0.02), biases 0."""
    for module in network.modules():
        if isinstance(module, _WEIGHTED):
            # spectral normalisation moves the weight to `parametrizations.weight.original`
            weight = module.parametrizations.weight.original if _is_parametrized(module) else module.weight
            nn.init.normal_(weight, 0.0, INIT_STD)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, _NORMS) and module.affine:
            nn.init.normal_(module.weight, 1.0, INIT_STD)
            nn.init.zeros_(module.bias)
    return network


def _is_parametrized(module: nn.Module) -> bool:
    return hasattr(module, "parametrizations") and "weight" in module.parametrizations
