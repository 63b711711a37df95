"""What an autoencoder run writes beside the trainer's files: its figures, example audio and metrics.

    RUN/plots/training_curves.png           loss, its terms and the validation metrics per epoch
    RUN/plots/spectrogram_comparison.png    a few held-out examples: original | reconstruction | |diff|
    RUN/reconstructions/audio_original_K.wav        Griffin-Lim of the original spectrogram
    RUN/reconstructions/audio_reconstructed_K.wav   Griffin-Lim of its reconstruction (same phases)
    RUN/reconstructions/metrics.json        MSE, MAE, cosine, spectral convergence, LSD, SI-SDR,
                                            PESQ/STOI (when installed) of those examples

Both .wav files of a pair go through the same Griffin-Lim from the same initial phases, so what
differs between them is the autoencoder alone; the pair is scaled by one factor (the louder peaks
at -1 dBFS), so their loudness can be compared too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import torch

from spectrogen.models.autoencoder.feature_space import FeatureSpace
from spectrogen.models.autoencoder.plots import (SPECTROGRAM_COMPARISON, TRAINING_CURVES,
                                                 plot_spectrogram_comparison, plot_training_curves)

RECONSTRUCTIONS_DIR = "reconstructions"
METRICS_FILE = "metrics.json"
#: examples drawn in spectrogram_comparison.png and turned into .wav pairs
SHOWN_EXAMPLES = 4
AUDIO_EXAMPLES = 2


def speech_metric_notes(space: Optional[FeatureSpace]) -> dict[str, str]:
    """Returns why the PESQ and STOI panels are empty, keyed by panel title (empty when they can be drawn)."""
    from spectrogen.metrics.reconstruction import SPEECH_EXTRA_HINT, speech_packages_available

    if space is None or not space.audible:
        reason = "skipped: the data set has no audio representation"
        return {"PESQ": reason, "STOI": reason}
    available = speech_packages_available()
    notes = {}
    if not available["pesq"]:
        notes["PESQ"] = SPEECH_EXTRA_HINT
    if not available["pystoi"]:
        notes["STOI"] = SPEECH_EXTRA_HINT
    return notes


def write_json(path: Path, data: dict[str, Any]) -> Path:
    """Returns `path` after writing `data` as indented JSON through a temporary file."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(data, indent=2, allow_nan=True), encoding="utf-8")
    os.replace(temporary, path)
    return path


def write_run_outputs(run_root: Path, history: Sequence[dict[str, Any]], originals: Optional[torch.Tensor],
                      reconstructions: Optional[torch.Tensor], space: Optional[FeatureSpace],
                      griffin_lim_iterations: int) -> list[Path]:
    """Returns the files written: the figures, and for audio data the .wav pairs and metrics.json.

    `originals` and `reconstructions` are model-space examples (N, 1, H, W), or None before any
    example was seen (then only the curves are drawn).
    """
    run_root = Path(run_root)
    plots_dir = run_root / "plots"
    written = [plot_training_curves(history, plots_dir / TRAINING_CURVES, speech_metric_notes(space))]
    if originals is None or reconstructions is None:
        return written
    originals, reconstructions = originals[:SHOWN_EXAMPLES], reconstructions[:SHOWN_EXAMPLES]
    if space is not None:
        reference, estimate = space.features(originals), space.features(reconstructions)  # (N, F, T)
    else:
        reference, estimate = originals[:, 0].float(), reconstructions[:, 0].float()  # (N, H, W)
    labels = _axis_labels(space)
    written.append(plot_spectrogram_comparison(
        reference.cpu().numpy(), estimate.cpu().numpy(), plots_dir / SPECTROGRAM_COMPARISON,
        seconds_per_frame=labels["seconds_per_frame"], frequency_label=labels["frequency"],
        value_label=labels["value"], titles=[f"held-out example {i}" for i in range(len(reference))]))
    if space is not None and space.audible:
        written += _write_audio_pairs(run_root / RECONSTRUCTIONS_DIR, originals, reconstructions, reference,
                                      estimate, space, griffin_lim_iterations)
    return written


def _axis_labels(space: Optional[FeatureSpace]) -> dict[str, Any]:
    if space is None:
        return {"seconds_per_frame": None, "frequency": "frequency row", "value": "normalised value"}
    rep = space.representation
    if not space.audible:
        return {"seconds_per_frame": None, "frequency": "row", "value": "feature value"}
    frequency = f"mel band (of {rep.n_mels})" if rep.kind == "mel" else "STFT bin"
    value = {"log1p": "log(1 + magnitude)", "log_eps": "log(magnitude + 1e-6)", "db": "dB"}.get(rep.log, rep.log)
    seconds = rep.hop_length / rep.sample_rate if rep.image_size is None else rep.duration / space.source_shape[1]
    return {"seconds_per_frame": seconds, "frequency": frequency, "value": value}


def _write_audio_pairs(folder: Path, originals: torch.Tensor, reconstructions: torch.Tensor,
                       reference: torch.Tensor, estimate: torch.Tensor, space: FeatureSpace,
                       n_iter: int) -> list[Path]:
    """Writes audio_original_K.wav / audio_reconstructed_K.wav and metrics.json; returns their paths."""
    from spectrogen.metrics.reconstruction import reconstruction_metrics
    from spectrogen.sampling.audio import set_level, write_wav

    folder.mkdir(parents=True, exist_ok=True)
    count = min(AUDIO_EXAMPLES, len(reference))
    rate = space.representation.sample_rate
    reference_audio = space.audio(reference[:count], n_iter, seed=0)  # (K, S)
    estimate_audio = space.audio(estimate[:count], n_iter, seed=0)  # (K, S), same initial phases
    written = []
    for k in range(count):
        # one gain for the pair, at the data's own level: the two compare by ear
        original, rebuilt = set_level(np.stack([reference_audio[k], estimate_audio[k]]), together=True)
        written.append(write_wav(folder / f"audio_original_{k}.wav", original, rate))
        written.append(write_wav(folder / f"audio_reconstructed_{k}.wav", rebuilt, rate))
    result = reconstruction_metrics(
        originals[:count].cpu().numpy(), reconstructions[:count].cpu().numpy(),
        reference_magnitude=space.magnitudes(originals[:count]).cpu().numpy(),
        estimate_magnitude=space.magnitudes(reconstructions[:count]).cpu().numpy(),
        reference_audio=reference_audio, estimate_audio=estimate_audio, sample_rate=rate)
    written.append(write_json(folder / METRICS_FILE, {
        "examples": count, "metrics": result.values, "skipped": result.skipped,
        "reference_audio": "Griffin-Lim of the original spectrogram, same iterations and initial phases",
        "griffin_lim_iterations": n_iter}))
    return written
