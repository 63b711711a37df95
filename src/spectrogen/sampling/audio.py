"""Generated spectrograms -> audio: undo the normalisation, invert the representation, write .wav files.

The inversion is the representation's own (`Representation.to_audio`: resize back, inverse log,
mel -> linear least squares, fast Griffin-Lim on magnitudes), so the same code serves every
representation `prepare` makes. Images (MNIST, PNG data sets) have no audio and are refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, get_args

import numpy as np
import torch

from spectrogen.atomic import open_replacing
from spectrogen.config.schema import Loudness
from spectrogen.errors import InputError, UsageError

# The level of written .wav files (output.loudness, `spectrogen sample --loudness`):
#   data  the level the spectrogram itself implies, which is the level of the recordings `prepare`
#         read (it never rescales audio): generated and real clips can be compared by ear and
#         a quiet data set gives quiet clips; only a clip that would pass HEADROOM_DBFS is turned
#         down to it, so nothing clips
#   rms   each clip's RMS set to RMS_TARGET_DBFS (speech and effects are mastered near there)
#   peak  each clip's robust peak set to HEADROOM_DBFS
# A level is always set from the whole clip's RMS or its robust peak, never from one sample.
LOUDNESS_MODES = get_args(Loudness)
LOUDNESS_WORDS = {"data": "at the level of the recordings the model learned from",
                  "rms": "each at -20 dBFS RMS", "peak": "each with its robust peak at -1 dBFS"}
DEFAULT_LOUDNESS = "data"
HEADROOM_DBFS = -1.0
RMS_TARGET_DBFS = -20.0
# the robust peak ignores the loudest 0.1 % of samples (16 of SpecGAN's 16384): one stray
# sample must not set a clip's level
ROBUST_PEAK_QUANTILE = 0.999


def check_audible(representation, source: str = "this model") -> None:
    """Raises InputError unless `representation` describes audio that can be inverted."""
    if representation is None or getattr(representation, "kind", None) == "image":
        raise InputError(f"{source} was trained on images, not audio spectrograms, so its samples have no "
                         f"sound; write npy or png instead of wav")


def to_audio(spectrograms, representation, normalizer=None, n_iter: int = 32, *, batch_size: int = 16,
             seed: Optional[int] = 0, init: str = "pghi") -> np.ndarray:
    """Returns audio (N, S) float32 at `representation.sample_rate` for normalised spectrograms (N, 1, H, W).

    Spectrograms of another (H, W) than the representation's grid (a model trained at another
    size, which saw the data resized) are resized back to it first.

    `normalizer` (the data set's, saved in the checkpoint) maps the model's range back to features;
    None means the spectrograms are features already. `n_iter` Griffin-Lim iterations from the phase
    `init` (pghi, random or zeros; see `griffin_lim`); `seed` fixes the random phases, so the same
    spectrograms give the same audio. The audio keeps the level the spectrogram implies
    (`set_level` chooses another). Work is done `batch_size` at a time.
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
            parts.append(representation.to_audio(features, n_iter=n_iter, generator=generator, init=init).cpu())  # (b, S)
    return torch.cat(parts).numpy().astype(np.float32, copy=False)


def decibels(level: np.ndarray) -> np.ndarray:
    """Returns 20 log10(level) in dBFS; silence gives -inf."""
    with np.errstate(divide="ignore"):
        return 20.0 * np.log10(np.asarray(level, dtype=np.float64))


def rms_level(audio: np.ndarray) -> np.ndarray:
    """Returns the RMS of each clip of `audio` (..., S)."""
    audio = np.asarray(audio, dtype=np.float64)
    return np.sqrt(np.mean(audio * audio, axis=-1))


def robust_peak(audio: np.ndarray) -> np.ndarray:
    """Returns each clip's ROBUST_PEAK_QUANTILE quantile of |audio| (..., S)."""
    return np.quantile(np.abs(np.asarray(audio, dtype=np.float64)), ROBUST_PEAK_QUANTILE, axis=-1)


def set_level(audio: np.ndarray, loudness: str = DEFAULT_LOUDNESS, *, together: bool = False) -> np.ndarray:
    """Returns clips (N, S) float32 at the level `loudness` names (see LOUDNESS_MODES); silence stays silent.

    `together`: one gain for all clips, the one the loudest needs, so that their levels stay
    comparable (an original beside its reconstruction).
    """
    check_loudness(loudness)
    audio = np.asarray(audio, dtype=np.float32)
    headroom = 10.0 ** (HEADROOM_DBFS / 20.0)
    true_peak = np.max(np.abs(audio), axis=-1)
    with np.errstate(divide="ignore"):
        if loudness == "data":
            gain = np.minimum(1.0, headroom / true_peak)  # turned down only where it would clip
        else:
            peak = robust_peak(audio)
            peak = np.where(peak > 0, peak, true_peak)  # a clip of a few isolated samples
            target = 10.0 ** (RMS_TARGET_DBFS / 20.0) / rms_level(audio) if loudness == "rms" else headroom / peak
            gain = np.minimum(target, 1.0 / peak)  # rms: the robust peak stays within full scale
    gain = np.where(np.isfinite(gain), gain, 0.0)  # silent clips
    if together and gain.size:
        gain = np.full_like(gain, gain[true_peak > 0].min() if (true_peak > 0).any() else 0.0)
    return (audio * gain[..., None]).astype(np.float32)


def check_loudness(loudness: str) -> None:
    """Raises UsageError unless `loudness` is one of LOUDNESS_MODES."""
    if loudness not in LOUDNESS_MODES:
        raise UsageError(f"--loudness {loudness}: choose {', '.join(LOUDNESS_MODES)} (data keeps the level of the "
                         f"recordings the model learned from)")


def write_wav(path, audio: np.ndarray, sample_rate: int) -> Path:
    """Returns `path` after writing mono `audio` (S,) in [-1, 1] there as 16-bit PCM."""
    import soundfile

    path = Path(path)
    # an interrupted write leaves no half file under the name; opened as a file, not by soundfile,
    # so that a bad folder raises an OSError naming `path`
    with open_replacing(path, "wb") as handle:
        soundfile.write(handle, np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0), int(sample_rate),
                        format="WAV", subtype="PCM_16")
    return path
