"""Generate spectrograms with a loaded model: seeds, class labels, batches and the truncation trick.

Samples are made a batch at a time (`sample_batches`), so that only one batch exists at once
however many are asked for; `generate` joins the batches. A seed reproduces the samples on any
device (the noise is drawn on the CPU). GANs and the autoencoder draw their latent vectors
LATENT_BLOCK at a time, in a fixed order, so that a sample depends on its seed and its place alone:
not on the batch size, and the first N of 2N samples are the N samples of the same seed (for
conditional models, whose classes are split over all n, with the same --class). Diffusion models
draw each batch's noise as they go, from one generator: the same seed and batch size give the
same samples.

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
from typing import Callable, Iterator, Optional, Sequence

import torch

from spectrogen.errors import UsageError

GAN_FAMILIES = ("dcgan", "specgan", "cgan")
# latent vectors drawn at once; a multiple of 16, as torch draws normal numbers 16 at a time: the
# blocks then continue one stream, the one a single large draw gives
LATENT_BLOCK = 256

# the class labels of samples start..stop-1, (stop - start,) int64
LabelSlice = Callable[[int, int], torch.Tensor]


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
    return balanced_label_slice(n, num_classes, 0, n)


def balanced_label_slice(n: int, num_classes: int, start: int, stop: int) -> torch.Tensor:
    """Returns `balanced_labels(n, num_classes)[start:stop]` without making the other labels."""
    return torch.arange(start, stop) * num_classes // max(n, 1)


def balanced_class_start(n: int, num_classes: int, label: int) -> int:
    """Returns the index of the first of `n` balanced samples that has class `label` (n when none has)."""
    return min(n, -(-label * n // num_classes))  # ceil(label * n / num_classes)


def generate(model, n: int, *, labels: Optional[Sequence[int] | torch.Tensor] = None, seed: Optional[int] = None,
             batch_size: int = 64, truncation: Optional[float] = None) -> torch.Tensor:
    """Returns `n` new spectrograms (n, 1, H, W) on the CPU, in the data's normalised range.

    `model` is a `LoadedGenerator` (or a bare `TrainingMethod`). Conditional models take `labels`
    (n,) class indices, None meaning equal numbers per class in blocks (see `balanced_labels`).
    All n are held at once: `sample_batches` gives them a batch at a time.
    """
    batches = sample_batches(model, n, labels=labels, seed=seed, batch_size=batch_size, truncation=truncation)
    return torch.cat(list(batches))  # (n, C, H, W)


def sample_batches(model, n: int, *, labels: Optional[Sequence[int] | torch.Tensor | LabelSlice] = None,
                   seed: Optional[int] = None, batch_size: int = 64,
                   truncation: Optional[float] = None) -> Iterator[torch.Tensor]:
    """Returns an iterator over `n` new spectrograms, in batches (b, C, H, W) of `batch_size` (the last one smaller).

    Arguments as `generate`; `labels` may also be a function (start, stop) -> labels of those
    samples, so that the labels of many samples are never all made. A batch is made when the
    iterator is asked for it, and nothing here keeps it afterwards.
    """
    method = getattr(model, "method", model)
    if n < 1:
        raise UsageError(f"--n {n}: ask for at least one sample")
    if batch_size < 1:
        raise UsageError(f"--batch-size {batch_size}: use at least 1")
    label_slice = _labels_for(method, n, labels)
    note = truncation_note(method.name, truncation)
    if note:
        warnings.warn(note, stacklevel=2)
    generator = torch.Generator(device="cpu")
    generator.manual_seed(new_seed() if seed is None else int(seed))
    draw = _batch_maker(method, generator, truncation if method.name in GAN_FAMILIES else None)
    return _batches(draw, n, batch_size, label_slice)


def _batches(draw: Callable[[int, int, Optional[torch.Tensor]], torch.Tensor], n: int, batch_size: int,
             label_slice: Optional[LabelSlice]) -> Iterator[torch.Tensor]:
    """Yields the batches that `draw(start, stop, labels)` makes, in order."""
    for start in range(0, n, batch_size):
        stop = min(n, start + batch_size)
        # no local name for the batch: the caller holds the only reference while it writes it
        yield _one_batch(draw, start, stop, None if label_slice is None else label_slice(start, stop))


def _one_batch(draw: Callable[[int, int, Optional[torch.Tensor]], torch.Tensor], start: int, stop: int,
               labels: Optional[torch.Tensor]) -> torch.Tensor:
    """Returns samples start..stop-1 (b, C, H, W) on the CPU, made without gradients."""
    # no_grad per batch, not around the loop: between batches the caller's code keeps its own mode
    # (not inference_mode: callers may feed the samples to a network that trains)
    with torch.no_grad():
        return draw(start, stop, labels).float().cpu()


def _labels_for(method, n: int, labels) -> Optional[LabelSlice]:
    """Returns the labels to sample with as a function of (start, stop), or None for unconditional models."""
    conditional = bool(getattr(method, "conditional", False))
    if not conditional:
        if labels is not None:
            raise UsageError(f"this {method.name} model is not conditional: it has no classes to choose from")
        return None
    num_classes = int(getattr(method, "num_classes", 0) or len(method.info.class_names))
    if labels is None:
        return lambda start, stop: balanced_label_slice(n, num_classes, start, stop)
    if callable(labels):
        return labels
    labels = torch.as_tensor(labels, dtype=torch.long).reshape(-1)
    if labels.numel() != n:
        raise UsageError(f"asked for {n} samples but gave {labels.numel()} class labels")
    if int(labels.min()) < 0 or int(labels.max()) >= num_classes:
        raise UsageError(f"class labels must lie in 0..{num_classes - 1}")
    return lambda start, stop: labels[start:stop]


def _batch_maker(method, generator: torch.Generator,
                 truncation: Optional[float]) -> Callable[[int, int, Optional[torch.Tensor]], torch.Tensor]:
    """Returns a function (start, stop, labels) -> samples start..stop-1 (b, C, H, W), called in order."""
    if method.name in GAN_FAMILIES:
        model = method.config.model

        def gan_latents(rows: int) -> torch.Tensor:
            from spectrogen.models.gan_method import sample_latent

            z = sample_latent(rows, model.latent_dim, model.latent_distribution, generator=generator)  # (rows, D)
            return z if truncation is None else truncate_latents(z, truncation, model.latent_distribution, generator)

        latents = LatentStream(gan_latents)
        return lambda start, stop, labels: _gan_samples(method, latents.take(start, stop), labels)
    network = getattr(method, "network", None)
    if hasattr(network, "prior_latents"):  # the autoencoder: its samples are decoded prior draws
        latents = LatentStream(lambda rows: network.prior_latents(rows, generator))
        return lambda start, stop, labels: _decoded_samples(network, latents.take(start, stop))
    return lambda start, stop, labels: _method_samples(method, stop - start, labels, generator)


class LatentStream:
    """The latent vectors of samples 0, 1, 2, ..., drawn LATENT_BLOCK at a time and read in order."""

    def __init__(self, draw: Callable[[int], torch.Tensor]):
        self._draw = draw  # rows -> (rows, D), the next rows of the stream
        self._block: Optional[torch.Tensor] = None
        self._first = -LATENT_BLOCK  # the index of the block's first row

    def take(self, start: int, stop: int) -> torch.Tensor:
        """Returns the vectors of samples start..stop-1 (stop - start, D); `start` never goes back."""
        if start < self._first:
            raise ValueError(f"latent vectors {start}.. were already passed (the stream is at {self._first})")
        parts = []
        while start < stop:
            if start >= self._first + LATENT_BLOCK:
                self._block, self._first = self._draw(LATENT_BLOCK), self._first + LATENT_BLOCK
                continue
            offset = start - self._first
            parts.append(self._block[offset:offset + stop - start])
            start += len(parts[-1])
        return torch.cat(parts)


def _gan_samples(method, z: torch.Tensor, labels: Optional[torch.Tensor]) -> torch.Tensor:
    """Returns the GAN's samples (b, C, H, W) of latent vectors `z` (b, D), as the method's own sampling makes them."""
    network = method.networks[method.sampling_networks[0]]  # the EMA generator when kept
    was_training = network.training
    network.eval()  # batch norm on running statistics: a sample depends on its latent alone
    try:
        labels = None if labels is None else labels.to(method.device)
        return _never_one_row(lambda rows, classes: network(rows) if classes is None else network(rows, classes),
                              z.to(method.device), labels)
    finally:
        network.train(was_training)


def _decoded_samples(network, z: torch.Tensor) -> torch.Tensor:
    """Returns the autoencoder's decoding (b, C, H, W) of latent vectors `z` (b, D)."""
    was_training = network.training
    network.eval()
    try:
        return _never_one_row(lambda rows, _: network.decode(rows), z, None)
    finally:
        network.train(was_training)


def _never_one_row(run: Callable[[torch.Tensor, Optional[torch.Tensor]], torch.Tensor], z: torch.Tensor,
                   labels: Optional[torch.Tensor]) -> torch.Tensor:
    """Returns run(z, labels) for latent vectors `z` (b, D), calling `run` on two rows when b is 1.

    One row goes through a matrix-vector product, which rounds differently from the product of a
    matrix of rows: a last batch of one sample would differ (by about 1e-6) from the same sample in
    a larger batch.
    """
    if len(z) != 1:
        return run(z, labels)
    return run(z.repeat(2, 1), None if labels is None else labels.repeat(2))[:1]


def _method_samples(method, n: int, labels, generator: torch.Generator) -> torch.Tensor:
    """Returns `n` of the method's own samples (n, C, H, W), in one batch, continuing `generator`'s stream."""
    if "batch_size" in inspect.signature(method.sample).parameters:
        return method.sample(n, generator=generator, labels=labels, batch_size=n)
    return method.sample(n, generator=generator, labels=labels)
