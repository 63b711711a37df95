"""Generate spectrograms with a loaded model: seeds, class labels, batches and the truncation trick.

A seed reproduces the samples on any device (the noise is drawn on the CPU) and, for GANs and
DDIM with eta=0, whatever the batch size (all noise is drawn before the first batch).

Truncation (GANs only) trades variety for typicality: with normal latents each component beyond
|T| is redrawn from the normal distribution truncated to [-T, T]; with uniform latents (SpecGAN)
components are clamped to [-T, T]. Diffusion models and the autoencoder have no latent code that
this applies to; `generate` ignores it for them and `truncation_note` says so.
"""

from __future__ import annotations

import inspect
import math
import secrets
import warnings
from typing import Optional, Sequence

import torch

from spectrogen.errors import UsageError

GAN_FAMILIES = ("dcgan", "specgan", "cgan")


def new_seed() -> int:
    """Returns a fresh random seed, for runs that do not give one (it is recorded so they can be repeated)."""
    return secrets.randbits(31)


def truncate_latents(z: torch.Tensor, truncation: float, distribution: str,
                     generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Returns `z` (B, D) with every component inside [-truncation, truncation].

    Normal latents: components beyond the bound are redrawn from the normal distribution truncated
    to it (inverse CDF, so no rejection loop); the others are kept, so a bound larger than any
    component changes nothing. Uniform latents: clamped.
    """
    if not truncation > 0:
        raise UsageError(f"--truncation {truncation}: use a positive bound, e.g. 0.7 (smaller: less varied)")
    if distribution == "uniform":
        return z.clamp(-truncation, truncation)
    outside = z.abs() > truncation
    count = int(outside.sum())
    if count == 0:
        return z
    # uniform in (Phi(-T), Phi(T)), mapped back through the normal quantile function, in float64
    edge = 0.5 * math.erfc(truncation / math.sqrt(2.0))  # Phi(-T)
    u = torch.rand(count, generator=generator, dtype=torch.float64, device=generator.device if generator else None)
    u = edge + u * (1.0 - 2.0 * edge)
    redrawn = math.sqrt(2.0) * torch.erfinv(2.0 * u - 1.0)
    z = z.clone()
    z[outside] = redrawn.clamp(-truncation, truncation).to(z.device, z.dtype)
    return z


def truncation_note(model_name: str, truncation: Optional[float]) -> Optional[str]:
    """Returns a note when `truncation` is given for a model it does not apply to, else None."""
    if truncation is None or model_name in GAN_FAMILIES:
        return None
    return (f"--truncation applies to GAN latents only; a {model_name} model starts from pure noise "
            f"(diffusion) or a fitted latent distribution (autoencoder), so it was ignored")


def set_diffusion_sampling(model, *, sampler: Optional[str] = None, steps: Optional[int] = None,
                           eta: Optional[float] = None, guidance_scale: Optional[float] = None) -> None:
    """Sets how a loaded diffusion model samples (None keeps the value saved with the run).

    The settings live in the model's `model.diffusion` configuration, which validates them; other
    families have no such settings, so asking for them is a usage error.
    """
    method = getattr(model, "method", model)
    asked = {key: value for key, value in (("sampler", sampler), ("sampling_steps", steps), ("eta", eta),
                                            ("guidance_scale", guidance_scale)) if value is not None}
    if not asked:
        return
    if method.name != "diffusion":
        flags = ", ".join("--" + key.replace("sampling_", "").replace("_", "-") for key in asked)
        raise UsageError(f"{flags} only apply to diffusion models; this checkpoint holds a {method.name} model")
    from pydantic import ValidationError

    settings = method.config.model.diffusion
    for key, value in asked.items():
        try:
            setattr(settings, key, value)
        except ValidationError as exc:
            raise UsageError(f"model.diffusion.{key}={value!r}: {exc.errors()[0]['msg']}") from None


def balanced_labels(n: int, num_classes: int) -> torch.Tensor:
    """Returns class indices (n,) in contiguous blocks, one per class, of sizes differing by at most one."""
    return torch.arange(n) * num_classes // max(n, 1)


def generate(model, n: int, *, labels: Optional[Sequence[int] | torch.Tensor] = None, seed: Optional[int] = None,
             batch_size: int = 64, truncation: Optional[float] = None) -> torch.Tensor:
    """Returns `n` new spectrograms (n, 1, H, W) on the CPU, in the data's normalised range.

    `model` is a `LoadedGenerator` (or a bare `TrainingMethod`). Conditional models take `labels`
    (n,) class indices, None meaning equal numbers per class in blocks (see `balanced_labels`).
    """
    method = getattr(model, "method", model)
    if n < 1:
        raise UsageError(f"--n {n}: ask for at least one sample")
    if batch_size < 1:
        raise UsageError(f"--batch-size {batch_size}: use at least 1")
    labels = _labels_for(method, n, labels)
    note = truncation_note(method.name, truncation)
    if note:
        warnings.warn(note, stacklevel=2)
    generator = torch.Generator(device="cpu")
    generator.manual_seed(new_seed() if seed is None else int(seed))
    with torch.no_grad():  # not inference_mode: callers may feed the samples to a network that trains
        if truncation is not None and method.name in GAN_FAMILIES:
            samples = _truncated_gan_samples(method, n, labels, generator, batch_size, truncation)
        else:
            samples = _method_samples(method, n, labels, generator, batch_size)
    return samples.float().cpu()  # (n, C, H, W)


def _labels_for(method, n: int, labels) -> Optional[torch.Tensor]:
    """Returns the (n,) labels to sample with, or None for unconditional models."""
    conditional = bool(getattr(method, "conditional", False))
    if not conditional:
        if labels is not None:
            raise UsageError(f"this {method.name} model is not conditional: it has no classes to choose from")
        return None
    num_classes = int(getattr(method, "num_classes", 0) or len(method.info.class_names))
    if labels is None:
        return balanced_labels(n, num_classes)
    labels = torch.as_tensor(labels, dtype=torch.long).reshape(-1)
    if labels.numel() != n:
        raise UsageError(f"asked for {n} samples but gave {labels.numel()} class labels")
    if int(labels.min()) < 0 or int(labels.max()) >= num_classes:
        raise UsageError(f"class labels must lie in 0..{num_classes - 1}")
    return labels


def _method_samples(method, n: int, labels, generator: torch.Generator, batch_size: int) -> torch.Tensor:
    """Returns the method's own samples (n, C, H, W), batched by the method when it takes a batch size.

    A method that does not (the autoencoder) gets all `n` in one call: splitting the call here
    would change which random numbers each sample gets, and so the samples, with the batch size.
    """
    if "batch_size" in inspect.signature(method.sample).parameters:
        return method.sample(n, generator=generator, labels=labels, batch_size=batch_size)
    return method.sample(n, generator=generator, labels=labels)


def _truncated_gan_samples(method, n: int, labels, generator: torch.Generator, batch_size: int,
                           truncation: float) -> torch.Tensor:
    """Returns GAN samples (n, C, H, W) from truncated latents, drawn as the method's own sampling draws them."""
    from spectrogen.models.gan_method import sample_latent

    model = method.config.model
    z = sample_latent(n, model.latent_dim, model.latent_distribution, generator=generator)  # (n, D), CPU
    z = truncate_latents(z, truncation, model.latent_distribution, generator).to(method.device)
    network = method.networks[method.sampling_networks[0]]  # the EMA generator when kept
    was_training = network.training
    network.eval()  # batch norm on running statistics: a sample depends on its latent alone
    try:
        parts = []
        for start in range(0, n, batch_size):
            chunk = z[start:start + batch_size]
            if labels is None:
                parts.append(network(chunk))
            else:
                parts.append(network(chunk, labels[start:start + batch_size].to(method.device)))
    finally:
        network.train(was_training)
    return torch.cat(parts)
