"""Generate spectrograms with a loaded model, a batch at a time. A seed reproduces the samples on any device (noise is
drawn on the CPU); GAN and autoencoder samples depend on their seed and place alone, not on the batch size."""

from __future__ import annotations

import math
import secrets
import warnings
from typing import Callable, Iterator, Optional, Sequence

import torch
from pydantic import ValidationError

from spectrogen.errors import UsageError
from spectrogen.models.conditional import balanced_labels, checked_labels
from spectrogen.models.gan_method import sample_latent
from spectrogen.models.method import eval_mode
from spectrogen.config.schema import GAN_FAMILIES

# latent vectors drawn at once; a multiple of 16, as torch draws normal numbers 16 at a time: the
# blocks then continue one stream, the one a single large draw gives
LATENT_BLOCK = 256

LabelSlice = Callable[[int, int], torch.Tensor]  # (start, stop) -> their class labels (stop - start,) int64
BatchDraw = Callable[[int, int, Optional[torch.Tensor]], torch.Tensor]  # (start, stop, labels) -> (b, C, H, W)


def new_seed() -> int:
    """Returns a fresh random seed, for runs that do not give one (recorded, so they can be repeated)."""
    return secrets.randbits(31)


def truncate_latents(z: torch.Tensor, truncation: float, distribution: str,
                     generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Returns `z` (B, D) with every component inside [-truncation, truncation] (more typical samples): normal
    latents beyond the bound redrawn from the truncated normal (inverse CDF), uniform ones (SpecGAN) clamped."""
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


def gan_truncation(model_name: str, truncation: Optional[float]) -> tuple[Optional[float], Optional[str]]:
    """Returns (the truncation that applies, None for models without GAN latents; a note when one was ignored);
    raises UsageError for a bound that is not positive, whatever the model."""
    if truncation is None:
        return None, None
    if not truncation > 0:
        raise UsageError(f"--truncation {truncation}: use a positive bound, e.g. 0.7 (smaller: less varied)")
    if model_name in GAN_FAMILIES:
        return truncation, None
    return None, (f"--truncation applies to GAN latents only; a {model_name} model starts from pure noise "
                  f"(diffusion) or a fitted latent distribution (autoencoder), so it was ignored")


def set_diffusion_sampling(model, *, sampler: Optional[str] = None, steps: Optional[int] = None,
                           eta: Optional[float] = None, guidance_scale: Optional[float] = None) -> None:
    """Sets how a loaded diffusion model samples (None keeps the saved value); other families refuse them."""
    method = getattr(model, "method", model)
    asked = {key: value for key, value in (("sampler", sampler), ("sampling_steps", steps), ("eta", eta),
                                            ("guidance_scale", guidance_scale)) if value is not None}
    if not asked:
        return
    if method.name != "diffusion":
        flags = ", ".join("--" + key.replace("sampling_", "").replace("_", "-") for key in asked)
        raise UsageError(f"{flags} only apply to diffusion models; this checkpoint holds a {method.name} model")
    settings = method.config.model.diffusion
    for key, value in asked.items():
        try:
            setattr(settings, key, value)
        except ValidationError as exc:
            raise UsageError(f"model.diffusion.{key}={value!r}: {exc.errors()[0]['msg']}") from None


def generate(model, n: int, *, labels: Optional[Sequence[int] | torch.Tensor] = None, seed: Optional[int] = None,
             batch_size: int = 64, truncation: Optional[float] = None) -> torch.Tensor:
    """Returns `n` new spectrograms (n, 1, H, W) on the CPU, in the data's normalised range, of a `LoadedGenerator`
    or `TrainingMethod`; conditional models take `labels` (n,), None for equal blocks (`balanced_labels`)."""
    batches = sample_batches(model, n, labels=labels, seed=seed, batch_size=batch_size, truncation=truncation)
    return torch.cat(list(batches))  # (n, C, H, W)


def sample_batches(model, n: int, *, labels: Optional[Sequence[int] | torch.Tensor | LabelSlice] = None,
                   seed: Optional[int] = None, batch_size: int = 64,
                   truncation: Optional[float] = None) -> Iterator[torch.Tensor]:
    """Returns an iterator over `n` new spectrograms in batches (b, C, H, W) of `batch_size`, each made when asked
    for; arguments as `generate`, checked at once (`labels` may be a function (start, stop) -> labels)."""
    method = getattr(model, "method", model)
    if n < 1:
        raise UsageError(f"--n {n}: ask for at least one sample")
    if batch_size < 1:
        raise UsageError(f"--batch-size {batch_size}: use at least 1")
    label_slice = _labels_for(method, n, labels)
    truncation, note = gan_truncation(method.name, truncation)
    if note:
        warnings.warn(note, stacklevel=2)
    generator = torch.Generator(device="cpu").manual_seed(new_seed() if seed is None else int(seed))
    return _batches(_batch_maker(method, generator, truncation), n, batch_size, label_slice)


def _batches(draw: BatchDraw, n: int, batch_size: int, label_slice: Optional[LabelSlice]) -> Iterator[torch.Tensor]:
    # no_grad per batch, not around the loop: between batches the caller's code keeps its own mode (not inference_mode:
    # callers may feed the samples to a network that trains); no local name holds the batch the caller is writing
    draw_without_grad = torch.no_grad()(draw)
    for start in range(0, n, batch_size):
        stop = min(n, start + batch_size)
        yield draw_without_grad(start, stop, None if label_slice is None else label_slice(start, stop)).float().cpu()


def _labels_for(method, n: int, labels) -> Optional[LabelSlice]:
    """Returns the labels to sample with as a function of (start, stop), or None for unconditional models."""
    if not getattr(method, "conditional", False):
        if labels is not None:
            raise UsageError(f"this {method.name} model is not conditional: it has no classes to choose from")
        return None
    num_classes = int(getattr(method, "num_classes", 0) or len(method.info.class_names))
    if labels is None:
        return lambda start, stop: balanced_labels(n, num_classes, start, stop)
    if callable(labels):
        return labels
    labels = checked_labels(labels, n, num_classes)
    return lambda start, stop: labels[start:stop]


def _batch_maker(method, generator: torch.Generator, truncation: Optional[float]) -> BatchDraw:
    """Returns the function that draws samples start..stop-1, called in order."""
    if method.name in GAN_FAMILIES:
        model = method.config.model

        def gan_latents(rows: int) -> torch.Tensor:
            z = sample_latent(rows, model.latent_dim, model.latent_distribution, generator=generator)  # (rows, D)
            return z if truncation is None else truncate_latents(z, truncation, model.latent_distribution, generator)

        latents = LatentStream(gan_latents)
        return lambda start, stop, labels: _never_one_row(method.from_latents, latents.take(start, stop), labels)
    network = getattr(method, "network", None)
    if hasattr(network, "prior_latents"):  # the autoencoder: its samples are decoded prior draws
        latents = LatentStream(lambda rows: network.prior_latents(rows, generator))

        def decoded(start: int, stop: int, labels: Optional[torch.Tensor]) -> torch.Tensor:
            with eval_mode(network):
                return _never_one_row(lambda rows, _: network.decode(rows), latents.take(start, stop), None)

        return decoded
    # the method's own sampling, in one batch, continuing `generator`'s stream
    return lambda start, stop, labels: method.sample(stop - start, generator=generator, labels=labels,
                                                     batch_size=stop - start)


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


def _never_one_row(run: Callable[[torch.Tensor, Optional[torch.Tensor]], torch.Tensor], z: torch.Tensor,
                   labels: Optional[torch.Tensor]) -> torch.Tensor:
    """Returns run(z, labels) for latent vectors `z` (b, D), calling `run` on two rows when b is 1: one row
    goes through a matrix-vector product, which rounds differently (about 1e-6) from a matrix of rows."""
    return run(z, labels) if len(z) != 1 else run(z.repeat(2, 1), None if labels is None else labels.repeat(2))[:1]
