"""Log compression of magnitudes and its exact inverse: ``log_eps`` log(M + 1e-6) (SpecGAN's), ``log1p`` log(1 + M)
(the mel presets'), ``db`` 20 log10(max(M, 1e-5)); no ``top_db`` floor relative to the example's maximum, which
would make the inverse depend on the example."""

from __future__ import annotations

from typing import Literal, get_args

import torch

from spectrogen.errors import ConfigError

LogKind = Literal["log_eps", "log1p", "db"]

LOG_EPS = 1e-6
DB_FLOOR = 1e-5


def compress(magnitude: torch.Tensor, kind: LogKind, inplace: bool = False) -> torch.Tensor:
    """Returns the log-compressed `magnitude` (>= 0); `inplace` writes over it (no autograd history), same values."""
    if kind == "log_eps":
        return magnitude.add_(LOG_EPS).log_() if inplace else torch.log(magnitude + LOG_EPS)
    if kind == "log1p":
        return magnitude.log1p_() if inplace else torch.log1p(magnitude)
    if kind == "db":
        return (magnitude.clamp_min_(DB_FLOOR).log10_().mul_(20.0) if inplace
                else 20.0 * torch.log10(magnitude.clamp_min(DB_FLOOR)))
    raise _unknown(kind)


def decompress(features: torch.Tensor, kind: LogKind) -> torch.Tensor:
    """Returns the magnitude (>= 0) whose compression is `features`; undoes :func:`compress`."""
    if kind == "log_eps":
        return (torch.exp(features) - LOG_EPS).clamp_min(0.0)
    if kind == "log1p":
        return torch.expm1(features).clamp_min(0.0)
    if kind == "db":
        return torch.pow(10.0, features / 20.0)
    raise _unknown(kind)


def _unknown(kind: str) -> ConfigError:
    return ConfigError(f"representation.log={kind!r}: use one of {', '.join(get_args(LogKind))}")
