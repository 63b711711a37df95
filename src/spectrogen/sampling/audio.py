"""Generated spectrograms -> audio: undo the normalisation, invert the representation, write .wav files.

The inversion is the representation's own (`Representation.to_audio`: resize back, inverse log,
mel -> linear least squares, fast Griffin-Lim on magnitudes), so the same code serves every
representation `prepare` makes. Images (MNIST, PNG data sets) have no audio and are refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch

from spectrogen.errors import InputError

DEFAULT_PEAK_DBFS = -1.0


def check_audible(representation, source: str = "this model") -> None:
    """Raises InputError unless `representation` describes audio that can be inverted."""
    if representation is None or getattr(representation, "kind", None) == "image":
        raise InputError(f"{source} was trained on images, not audio spectrograms, so its samples have no "
                         f"sound; write npy or png instead of wav")


def to_audio(spectrograms, representation, normalizer=None, n_iter: int = 32, *, batch_size: int = 16,
             seed: Optional[int] = 0) -> np.ndarray:
    """Returns audio (N, S) float32 at `representation.sample_rate` for normalised spectrograms (N, 1, H, W).

    Spectrograms of another (H, W) than the representation's grid (a model trained at another
    size, which saw the data resized) are resized back to it first.

    `normalizer` (the data set's, saved in the checkpoint) maps the model's range back to features;
    None means the spectrograms are features already. `n_iter` Griffin-Lim iterations; `seed` fixes
    the initial phases, so the same spectrograms give the same audio. Work is done `batch_size` at a time.
    """
    check_audible(representation)
    x = torch.as_tensor(np.asarray(spectrograms) if not isinstance(spectrograms, torch.Tensor) else spectrograms)
    if x.ndim == 3:
        x = x.unsqueeze(1)  # (N, H, W) -> (N, 1, H, W)
    expected = tuple(representation.shape)
    if x.ndim != 4 or x.shape[1] != 1:
        raise InputError(f"spectrograms of shape {tuple(x.shape)} do not fit the representation, which makes "
                         f"(N, 1, {expected[0]}, {expected[1]})")
    if tuple(x.shape[-2:]) != expected:
        # a model trained at another size saw the data resized (training.data_loading): resize back
        from spectrogen.spectral.resize import resize

        x = resize(x.float(), expected)  # (N, 1, F, T)
    if n_iter < 1:
        raise InputError(f"--griffin-lim-iters {n_iter}: use at least 1")
    generator = torch.Generator(device="cpu")
    if seed is not None:
        generator.manual_seed(int(seed))
    # Griffin-Lim runs where the normaliser lives: the sampling device (the phases are drawn on the CPU)
    device = next(iter(normalizer.buffers()), torch.empty(0)).device if normalizer is not None else x.device
    parts = []
    with torch.inference_mode():
        for start in range(0, len(x), batch_size):
            chunk = x[start:start + batch_size, 0].float().to(device)  # (b, F, T) normalised
            features = normalizer.inverse(chunk) if normalizer is not None else chunk  # (b, F, T)
            parts.append(representation.to_audio(features, n_iter=n_iter, generator=generator).cpu())  # (b, S)
    return torch.cat(parts).numpy().astype(np.float32, copy=False)


def peak_normalize(audio: np.ndarray, peak_dbfs: float = DEFAULT_PEAK_DBFS) -> np.ndarray:
    """Returns `audio` (..., S) with each clip scaled so its peak is `peak_dbfs` (silent clips stay silent)."""
    audio = np.asarray(audio, dtype=np.float32)
    peaks = np.max(np.abs(audio), axis=-1, keepdims=True)
    target = 10.0 ** (peak_dbfs / 20.0)
    return np.where(peaks > 0, audio * (target / np.maximum(peaks, 1e-12)), 0.0).astype(np.float32)


def write_wav(path, audio: np.ndarray, sample_rate: int) -> Path:
    """Returns `path` after writing mono `audio` (S,) in [-1, 1] there as 16-bit PCM."""
    import soundfile

    path = Path(path)
    soundfile.write(str(path), np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0), int(sample_rate),
                    subtype="PCM_16")
    return path
