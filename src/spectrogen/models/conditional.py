"""Class-conditional networks wrapped around a DCGAN or SpecGAN generator and critic, and class labels."""

from __future__ import annotations

from typing import Callable, Literal, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from spectrogen.errors import UsageError
from spectrogen.models.gan_stacks import init_gan_weights

# a learned class code this wide is plenty to tell classes apart and keeps z the larger part of the input
CLASS_EMBEDDING_DIM = 32


def balanced_labels(n: int, num_classes: int, start: int = 0, stop: Optional[int] = None, *,
                    device: torch.device | str | None = None) -> torch.Tensor:
    """Returns the classes (stop - start,) int64 of samples start..stop-1 (default all) of `n` shared equally
    (up to one) among `num_classes` in contiguous blocks: 0 0 1 1 2 for n=5, 3 classes."""
    return torch.arange(start, n if stop is None else stop, device=device) * num_classes // max(n, 1)


def first_of_class(n: int, num_classes: int, label: int) -> int:
    """Returns the index of the first of `n` balanced samples of class `label` (n when none has it)."""
    return min(n, -(-label * n // num_classes))  # ceil(label * n / num_classes)


def checked_labels(labels: Sequence[int] | torch.Tensor, n: int, num_classes: int) -> torch.Tensor:
    """Returns `labels` as (n,) int64; UsageError unless there are `n` of them, each in 0..num_classes-1."""
    labels = torch.as_tensor(labels, dtype=torch.long).reshape(-1)
    if labels.numel() != n:
        raise UsageError(f"asked for {n} samples but gave {labels.numel()} class labels")
    if n and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise UsageError(f"class labels must lie in 0..{num_classes - 1}")
    return labels


class ConditionalGenerator(nn.Module):
    """(z (B, latent_dim), labels (B,)) -> (B, C, H, W): a one-hot or learned class code is concatenated to z."""

    def __init__(self, make_base: Callable[[int], nn.Module], latent_dim: int, num_classes: int,
                 generator_input: Literal["onehot", "embedding"] = "onehot"):
        super().__init__()
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        self.generator_input = generator_input
        code_dim = num_classes if generator_input == "onehot" else CLASS_EMBEDDING_DIM
        self.embed = nn.Embedding(num_classes, code_dim) if generator_input == "embedding" else None
        self.base = make_base(latent_dim + code_dim)
        if self.embed is not None:
            init_gan_weights(self.embed)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        code = self.embed(labels) if self.embed is not None else F.one_hot(labels, self.num_classes)  # (B, code_dim)
        return self.base(torch.cat([z, code.to(z.dtype)], dim=1))  # (B, C, H, W)


class ConditionalDiscriminator(nn.Module):
    """(images (B, C, H, W), labels (B,)) -> logits (B,), or (B, 1 + K) with an auxiliary classifier's K logits; the
    class enters as an extra input channel (a label map made from the one-hot vector by a linear layer) or by
    projection (Miyato & Koyama 2018): a class embedding's inner product with the pooled features."""

    def __init__(self, make_base: Callable[[int], nn.Module], channels: int, size: tuple[int, int],
                 num_classes: int, discriminator_input: Literal["label_map", "projection"] = "label_map",
                 use_spectral_norm: bool = False, auxiliary_classifier: bool = False):
        super().__init__()
        self.num_classes = num_classes
        self.size = tuple(size)
        self.discriminator_input = discriminator_input
        if discriminator_input == "label_map":
            self.base = make_base(channels + 1)
            self.label_map = nn.Linear(num_classes, size[0] * size[1])
            init_gan_weights(self.label_map)
        else:
            self.base = make_base(channels)
            self.embed = nn.Embedding(num_classes, self.base.feature_channels)
            init_gan_weights(self.embed)
        self.classifier = None
        if auxiliary_classifier:  # it reads the projection critic's features
            self.classifier = nn.Linear(self.base.feature_channels, num_classes)
            init_gan_weights(self.classifier)
        if use_spectral_norm:  # on every convolution, linear and embedding layer
            for module in [m for m in self.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding))]:
                spectral_norm(module)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.discriminator_input == "label_map":
            one_hot = F.one_hot(labels, self.num_classes).to(x.dtype)
            plane = self.label_map(one_hot).view(-1, 1, *self.size)  # (B, 1, H, W)
            return self.base(torch.cat([x, plane], dim=1))  # (B,)
        h = self.base.features(x)  # (B, F, h, w)
        pooled = h.sum(dim=(2, 3))  # (B, F), Miyato & Koyama sum-pool before the projection
        logit = self.base.logit(h) + (self.embed(labels).to(pooled.dtype) * pooled).sum(dim=1)  # (B,)
        if self.classifier is None:
            return logit
        # one tensor, so that a DistributedDataParallel wrapper sees one output: column 0 is the logit
        return torch.cat([logit[:, None], self.classifier(h.mean(dim=(2, 3)))], dim=1)  # (B, 1 + K)
