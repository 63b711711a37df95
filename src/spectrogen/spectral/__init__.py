"""Spectral front-end: STFT, mel, log compression, normalisation, Griffin-Lim, augmentation, and `FeatureMapping`
between a data set's features and model inputs. Torch, batch-first, CPU and GPU alike; arrays are (..., freq, time),
low frequencies at row 0. Functions named like their module (`stft.stft`, `resize.resize`) are not re-exported here,
so the module names stay importable."""

from spectrogen.spectral.augment import (Augment, frequency_mask, gaussian_noise, temporal_shift,
                                         time_mask, time_stretch)
from spectrogen.spectral.compression import LogKind, compress, decompress
from spectrogen.spectral.griffin_lim import GriffinLim
from spectrogen.spectral.mapping import FeatureMapping
from spectrogen.spectral.mel import InverseMelScale, MelScale, inverse_mel_scale, mel_filter_bank, mel_scale
from spectrogen.spectral.moments import MomentAccumulator, Moments
from spectrogen.spectral.normalization import NormalizationKind, Normalizer, denormalize, normalize
from spectrogen.spectral.representation import PRESETS, Representation
from spectrogen.spectral.stft import Spectrogram, num_frames, periodic_hann, spectral_convergence

__all__ = [
    "Augment", "FeatureMapping", "GriffinLim", "InverseMelScale", "LogKind", "MelScale", "MomentAccumulator",
    "Moments", "NormalizationKind", "Normalizer", "PRESETS", "Representation", "Spectrogram", "compress", "decompress",
    "denormalize", "frequency_mask", "gaussian_noise", "inverse_mel_scale", "mel_filter_bank", "mel_scale",
    "normalize", "num_frames", "periodic_hann", "spectral_convergence", "temporal_shift", "time_mask", "time_stretch",
]
