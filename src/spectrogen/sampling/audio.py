"""Generated spectrograms -> audio through the data set's `FeatureMapping` and the representation's own inversion
(every representation `prepare` makes; images have none), at a chosen level, into .wav files."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, get_args

import numpy as np
import torch

from spectrogen.atomic import open_replacing
from spectrogen.config.schema import Loudness
from spectrogen.errors import InputError, UsageError
from spectrogen.spectral.mapping import FeatureMapping

# the level of written .wav files (output.loudness, `--loudness`): "data" the level the spectrogram implies, that
# of the recordings (`prepare` never rescales), turned down only where a clip would pass HEADROOM_DBFS; "rms" each
# clip's RMS at RMS_TARGET_DBFS (where speech and effects are mastered); "peak" its robust peak at HEADROOM_DBFS
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
    """Returns audio (N, S) float32 at `representation.sample_rate`, at the level the spectrogram implies, for
    spectrograms (N, 1, H, W) normalised by the data set's `normalizer` (None: features already)."""
    check_audible(representation)
    x = torch.as_tensor(np.asarray(spectrograms) if not isinstance(spectrograms, torch.Tensor) else spectrograms)
    if x.ndim == 3:
        x = x.unsqueeze(1)  # (N, H, W) -> (N, 1, H, W)
    with torch.inference_mode():
        features = FeatureMapping(representation, normalizer, tuple(x.shape[-2:])).to_features(x)  # (N, F, T)
    return features_to_audio(features, representation, n_iter, seed=seed, init=init, batch_size=batch_size)


def features_to_audio(features: torch.Tensor, representation, n_iter: int, *, seed: Optional[int] = 0,
                      init: str = "pghi", batch_size: Optional[int] = None) -> np.ndarray:
    """Returns audio (N, S) float32 of un-normalised features (N, F, T): `n_iter` Griffin-Lim iterations from the
    phase `init`, `batch_size` examples at a time (None: all); one `seed` gives the same random phases."""
    generator = torch.Generator(device="cpu")
    if seed is not None:
        generator.manual_seed(int(seed))
    step = batch_size or max(1, len(features))
    with torch.inference_mode():
        parts = [representation.to_audio(features[start:start + step], n_iter=n_iter, generator=generator,
                                         init=init).cpu() for start in range(0, len(features), step)]
    return torch.cat(parts).numpy().astype(np.float32, copy=False)


def decibels(level: np.ndarray) -> np.ndarray:
    """Returns 20 log10(level) in dBFS; silence gives -inf."""
    with np.errstate(divide="ignore"):
        return 20.0 * np.log10(np.asarray(level, dtype=np.float64))


def rms_level(audio: np.ndarray) -> np.ndarray:
    """Returns the RMS of each clip of `audio` (..., S)."""
    audio = np.asarray(audio, dtype=np.float64)
    return np.sqrt(np.mean(audio * audio, axis=-1))


def set_level(audio: np.ndarray, loudness: str = DEFAULT_LOUDNESS, *, together: bool = False) -> np.ndarray:
    """Returns clips (N, S) float32 at the level `loudness` names, silence staying silent; `together`: one gain for
    all, the one the loudest needs, so that their levels stay comparable (an original beside its reconstruction)."""
    check_loudness(loudness)
    audio = np.asarray(audio, dtype=np.float32)
    headroom = 10.0 ** (HEADROOM_DBFS / 20.0)
    true_peak = np.max(np.abs(audio), axis=-1)
    with np.errstate(divide="ignore"):
        if loudness == "data":
            gain = np.minimum(1.0, headroom / true_peak)  # turned down only where it would clip
        else:
            peak = np.quantile(np.abs(audio.astype(np.float64)), ROBUST_PEAK_QUANTILE, axis=-1)
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
    import soundfile  # only writing .wav needs it

    path = Path(path)
    # an interrupted write leaves no half file under the name; opened as a file, not by soundfile,
    # so that a bad folder raises an OSError naming `path`
    with open_replacing(path, "wb") as handle:
        soundfile.write(handle, np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0), int(sample_rate),
                        format="WAV", subtype="PCM_16")
    return path
