"""How close a reconstruction is to its reference: spectrogram errors, SI-SDR, and PESQ and STOI from the optional
`pesq` and `pystoi` packages (`spectrogen[speech]`), reported as skipped without them, never approximated."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import soxr
import torch

from spectrogen.spectral import spectral_convergence as per_example

SPEECH_EXTRA_HINT = "skipped: install spectrogen[speech] (the pesq and pystoi packages)"


def _pair(reference, estimate) -> tuple[np.ndarray, np.ndarray]:
    ref = np.asarray(reference, dtype=np.float64)
    est = np.asarray(estimate, dtype=np.float64)
    if ref.shape != est.shape:
        raise ValueError(f"reference and estimate differ in shape: {ref.shape} vs {est.shape}")
    return ref, est


def mse(reference, estimate) -> float:
    """Returns the mean squared difference of two arrays of the same shape."""
    ref, est = _pair(reference, estimate)
    return float(np.mean((ref - est) ** 2))


def mae(reference, estimate) -> float:
    """Returns the mean absolute difference of two arrays of the same shape."""
    ref, est = _pair(reference, estimate)
    return float(np.mean(np.abs(ref - est)))


def cosine_similarity(reference, estimate) -> float:
    """Returns the mean over examples (axis 0) of the cosine similarity of each flattened pair, in [-1, 1]."""
    ref, est = _pair(reference, estimate)
    ref, est = ref.reshape(len(ref), -1), est.reshape(len(est), -1)
    norms = np.linalg.norm(ref, axis=1) * np.linalg.norm(est, axis=1)
    return float(np.mean(np.sum(ref * est, axis=1) / np.maximum(norms, 1e-12)))


def spectral_convergence(reference_magnitude, estimate_magnitude) -> float:
    """Returns the mean spectral convergence ||S| - |Ŝ||_F / ||S||_F of linear magnitudes (..., F, T)."""
    ref, est = _pair(reference_magnitude, estimate_magnitude)
    value = per_example(torch.as_tensor(ref), torch.as_tensor(est))
    return float(torch.as_tensor(value, dtype=torch.float64).mean())


def log_spectral_distance(reference_magnitude, estimate_magnitude, eps: float = 1e-10) -> float:
    """Returns the mean over frames of sqrt(mean over frequency of (10 log10(|S|² / |Ŝ|²))²) of linear magnitudes
    (..., F, T), in dB; `eps` keeps silent bins finite."""
    ref, est = _pair(reference_magnitude, estimate_magnitude)
    difference = 10.0 * (np.log10(ref ** 2 + eps) - np.log10(est ** 2 + eps))  # (..., F, T)
    return float(np.mean(np.sqrt(np.mean(difference ** 2, axis=-2))))


def si_sdr(reference_audio, estimate_audio) -> np.ndarray:
    """Returns the scale-invariant signal-to-distortion ratio (Le Roux et al. 2019) in dB of each waveform
    pair (..., S) -> (...): +inf for a scaled copy."""
    ref, est = _pair(reference_audio, estimate_audio)
    ref = ref - ref.mean(axis=-1, keepdims=True)
    est = est - est.mean(axis=-1, keepdims=True)
    scale = np.sum(est * ref, axis=-1, keepdims=True) / np.maximum(np.sum(ref ** 2, axis=-1, keepdims=True), 1e-20)
    target = scale * ref
    residual = est - target
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(np.sum(target ** 2, axis=-1) / np.sum(residual ** 2, axis=-1))


def speech_packages_available() -> dict[str, bool]:
    """Returns whether `pesq` and `pystoi` are installed."""
    return {name: importlib.util.find_spec(name) is not None for name in ("pesq", "pystoi")}


def _resample(audio: np.ndarray, rate: int, target: int) -> np.ndarray:
    return audio if rate == target else np.stack([soxr.resample(a, rate, target) for a in audio])


def pesq_score(reference_audio, estimate_audio, sample_rate: int) -> float:
    """Returns the mean PESQ (wide band at 16 kHz, narrow band at 8 kHz; other rates are resampled to 16 kHz)
    over waveform pairs (B, S); raises ImportError when the `pesq` package is missing."""
    from pesq import pesq  # deferred: an optional package

    ref, est = (np.atleast_2d(a) for a in _pair(reference_audio, estimate_audio))
    rate = sample_rate if sample_rate in (8000, 16000) else 16000
    ref, est = _resample(ref, sample_rate, rate), _resample(est, sample_rate, rate)
    mode = "wb" if rate == 16000 else "nb"
    return float(np.mean([pesq(rate, r, e, mode) for r, e in zip(ref, est)]))


def stoi_score(reference_audio, estimate_audio, sample_rate: int) -> float:
    """Returns the mean STOI (0..1) over waveform pairs (B, S); raises ImportError when `pystoi` is missing."""
    from pystoi import stoi  # deferred: an optional package

    ref, est = (np.atleast_2d(a) for a in _pair(reference_audio, estimate_audio))
    return float(np.mean([stoi(r, e, sample_rate, extended=False) for r, e in zip(ref, est)]))


@dataclass
class ReconstructionResult:
    """Metric name -> value, and metric name -> why it was not computed."""

    values: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def reconstruction_metrics(reference, estimate, *, reference_magnitude=None, estimate_magnitude=None,
                           reference_audio=None, estimate_audio=None,
                           sample_rate: Optional[int] = None) -> ReconstructionResult:
    """Returns every reconstruction metric the given arrays allow: MSE, MAE and cosine of model arrays, spectral
    convergence and log-spectral distance of linear magnitudes (..., F, T), SI-SDR, PESQ, STOI of waveforms (B, S)."""
    result = ReconstructionResult({
        "mse": mse(reference, estimate), "mae": mae(reference, estimate),
        "cosine_similarity": cosine_similarity(reference, estimate),
    })
    if reference_magnitude is not None and estimate_magnitude is not None:
        result.values["spectral_convergence"] = spectral_convergence(reference_magnitude, estimate_magnitude)
        result.values["log_spectral_distance_db"] = log_spectral_distance(reference_magnitude, estimate_magnitude)
    if reference_audio is None or estimate_audio is None:
        return result
    result.values["si_sdr_db"] = float(np.mean(si_sdr(reference_audio, estimate_audio)))
    if sample_rate is None:
        result.skipped["pesq"] = result.skipped["stoi"] = "skipped: no sample rate given"
        return result
    available = speech_packages_available()
    for name, package, score in (("pesq", "pesq", pesq_score), ("stoi", "pystoi", stoi_score)):
        if available[package]:
            result.values[name] = score(reference_audio, estimate_audio, sample_rate)
        else:
            result.skipped[name] = SPEECH_EXTRA_HINT
    return result
