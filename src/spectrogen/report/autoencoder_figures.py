"""What an autoencoder run writes beside the trainer's files, and the speech scores of its epochs. Both files of
an original/reconstructed pair go through the same Griffin-Lim from the same initial phases at one gain, so what
differs between them, loudness included, is the autoencoder alone."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from spectrogen.atomic import save_figure, write_text_atomic
from spectrogen.metrics.reconstruction import (SPEECH_EXTRA_HINT, pesq_score, reconstruction_metrics,
                                               speech_packages_available, stoi_score)
from spectrogen.sampling.audio import features_to_audio, set_level, write_wav
from spectrogen.spectral.mapping import FeatureMapping
from spectrogen.training.plots import DPI, draw_series, empty_note, epoch_axes, sample_mosaic

TRAINING_CURVES = "training_curves.png"
SPECTROGRAM_COMPARISON = "spectrogram_comparison.png"
RECONSTRUCTIONS_DIR = "reconstructions"
METRICS_FILE = "metrics.json"
AUDIO_EXAMPLES = 2  # of the method's kept examples (all shown in spectrogram_comparison.png), turned into sound

# panel title -> (statistics drawn, y label); keys that never appear in the history are left out
_PANELS = (
    ("Loss", ("loss", "val_loss"), "weighted loss"),
    ("Loss terms", ("mse", "l1", "kl", "val_mse", "val_mae", "val_kl"), "per-element error / KL"),
    ("Cosine similarity", ("val_cosine_similarity",), "cosine similarity (normalised space)"),
    ("Spectral convergence", ("val_spectral_convergence",), "||S - S^||_F / ||S||_F"),
    ("PESQ", ("val_pesq",), "PESQ (Griffin-Lim audio)"),
    ("STOI", ("val_stoi",), "STOI (Griffin-Lim audio)"),
)


def write_figures(trainer) -> list[Path]:
    """The autoencoder family's figure writer (`Trainer(figure_writers=...)`): returns the files written: the
    figures, and for audio data the .wav pairs and metrics.json, of the held-out examples the method keeps."""
    originals, space, run = trainer.method.examples, trainer.method.mapping, trainer.run  # (N, 1, H, W)
    written = [plot_training_curves(trainer.history, run.plots_dir / TRAINING_CURVES, space)]
    if originals is None:  # no example seen yet
        return written
    reconstructions = trainer.method.reconstruct(originals)
    if space is not None:
        reference, estimate = space.to_features(originals), space.to_features(reconstructions)  # (N, F, T)
    else:
        reference, estimate = originals[:, 0].float(), reconstructions[:, 0].float()  # (N, H, W)
    written.append(plot_spectrogram_comparison(
        reference.cpu().numpy(), estimate.cpu().numpy(), run.plots_dir / SPECTROGRAM_COMPARISON,
        titles=[f"held-out example {i}" for i in range(len(reference))], **axis_labels(space)))
    if space is not None and space.audible:
        written += _write_audio_pairs(run.root / RECONSTRUCTIONS_DIR, originals, reconstructions, reference,
                                      estimate, space, trainer.config.output.griffin_lim_iterations)
    return written


def speech_scores(trainer, epoch: int) -> None:
    """The autoencoder family's epoch callback: adds val_pesq and val_stoi (where installed) to the epoch's row."""
    method = trainer.method
    space = method.mapping
    available = speech_packages_available()
    if not method.examples_are_validation or space is None or not space.audible or not any(available.values()):
        return
    originals = method.examples[:AUDIO_EXAMPLES]
    n_iter = trainer.config.output.griffin_lim_iterations
    reference = features_to_audio(space.to_features(originals), space.representation, n_iter)
    estimate = features_to_audio(space.to_features(method.reconstruct(originals)), space.representation, n_iter)
    for name, package, score in (("pesq", "pesq", pesq_score), ("stoi", "pystoi", stoi_score)):
        if available[package]:
            try:
                trainer.epoch_row[f"val_{name}"] = score(reference, estimate, space.representation.sample_rate)
            except RuntimeError:  # PESQ refuses clips it finds no speech-like activity in
                trainer.epoch_row[f"val_{name}"] = math.nan


def plot_training_curves(history: Sequence[dict[str, Any]], path: Path, space: Optional[FeatureMapping]) -> Path:
    """Returns `path` after drawing the loss, its terms and each validation metric against the epoch; an empty PESQ
    or STOI panel says why (no audio in `space`, or its package missing)."""
    audible = space is not None and space.audible
    available = speech_packages_available()
    notes = {title: SPEECH_EXTRA_HINT if audible else "skipped: the data set has no audio representation"
             for title, package in (("PESQ", "pesq"), ("STOI", "pystoi")) if not (audible and available[package])}
    figure = Figure(figsize=(13, 7))
    grid = figure.subplots(2, 3)
    for axes, (title, keys, label) in zip(grid.flat, _PANELS):
        epoch_axes(axes, title, label)
        # a loss panel's validation curves (listed last) dashed
        solid = [key for key in keys if not (key.startswith("val_") and title.startswith("Loss"))]
        if draw_series(axes, history, solid) + draw_series(axes, history, keys[len(solid):], linestyle="--"):
            axes.legend(loc="best", fontsize="small")
        else:
            empty_note(axes, textwrap.fill(notes.get(title, "not measured"), 34), fontsize="small")
    figure.suptitle("Autoencoder training (val_: held-out split, eval mode)")
    figure.subplots_adjust(left=0.06, right=0.98, bottom=0.08, top=0.9, wspace=0.3, hspace=0.4)
    return save_figure(figure, path, dpi=DPI)


def plot_spectrogram_comparison(originals: np.ndarray, reconstructions: np.ndarray, path: Path, *,
                                seconds_per_frame: Optional[float] = None, frequency_label: str = "frequency bin",
                                value_label: str = "feature value", titles: Optional[Sequence[str]] = None) -> Path:
    """Returns `path` after drawing originals (N, F, T), their reconstructions and |difference| side by side."""
    originals = np.asarray(originals, dtype=np.float32)
    reconstructions = np.asarray(reconstructions, dtype=np.float32)
    if originals.shape != reconstructions.shape or originals.ndim != 3:
        raise ValueError(f"originals {originals.shape} and reconstructions {reconstructions.shape} "
                         f"must both be (N, F, T)")
    count, bins, frames = originals.shape
    titles = list(titles) if titles is not None else [f"example {i}" for i in range(count)]
    low = float(min(originals.min(), reconstructions.min()))
    high = float(max(originals.max(), reconstructions.max()))
    difference = np.abs(originals - reconstructions)
    width = frames * seconds_per_frame if seconds_per_frame else frames
    extent = (0.0, width, -0.5, count * (bins + 1) - 1.5)
    figure = Figure(figsize=(14, 1.2 + min(1.6 * count, 12.0)), layout="constrained")
    columns = figure.subplots(1, 3, sharey=True)
    panels = ((originals, "original", low, high, "magma"),
              (reconstructions, "reconstruction", low, high, "magma"),
              (difference, "|original - reconstruction|", 0.0, float(difference.max()) or 1.0, "viridis"))
    drawn = []
    for axes, (images, title, vmin, vmax, cmap) in zip(columns, panels):
        drawn.append(axes.imshow(sample_mosaic(images[:, None], columns=1), origin="lower", aspect="auto",
                                 cmap=cmap, vmin=vmin, vmax=vmax, extent=extent, interpolation="nearest"))
        axes.set_title(title)
        axes.set_xlabel("time (s)" if seconds_per_frame else "time (frames)")
    figure.colorbar(drawn[0], ax=list(columns[:2]), fraction=0.04, pad=0.01, label=value_label)
    figure.colorbar(drawn[2], ax=columns[2], fraction=0.08, pad=0.02, label="|difference|")
    # each tile's name at its middle; its rows run from the lowest frequency (bottom) up
    centres = [(count - 1 - i) * (bins + 1) + (bins - 1) / 2 for i in range(count)]
    columns[0].set_yticks(centres, titles, fontsize="small")
    columns[0].set_ylabel(f"{frequency_label}, {bins} rows per example, low at the bottom")
    return save_figure(figure, path, dpi=DPI)


def axis_labels(space: Optional[FeatureMapping]) -> dict[str, Any]:
    """Returns the axis keywords of `plot_spectrogram_comparison` for features of `space` (None: model space)."""
    if space is None:
        return {"frequency_label": "frequency row", "value_label": "normalised value"}
    rep = space.representation
    if not space.audible:
        return {"frequency_label": "row", "value_label": "feature value"}
    value = {"log1p": "log(1 + magnitude)", "log_eps": "log(magnitude + 1e-6)", "db": "dB"}.get(rep.log, rep.log)
    return {"seconds_per_frame": rep.duration / space.data_shape[1] if rep.image_size else
            rep.hop_length / rep.sample_rate,
            "frequency_label": f"mel band (of {rep.n_mels})" if rep.kind == "mel" else "STFT bin", "value_label": value}


def _write_audio_pairs(folder: Path, originals: torch.Tensor, reconstructions: torch.Tensor,
                       reference: torch.Tensor, estimate: torch.Tensor, space: FeatureMapping,
                       n_iter: int) -> list[Path]:
    """Writes audio_original_K.wav / audio_reconstructed_K.wav and metrics.json; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    count = min(AUDIO_EXAMPLES, len(reference))
    rate = space.representation.sample_rate
    reference_audio = features_to_audio(reference[:count], space.representation, n_iter)  # (K, S)
    estimate_audio = features_to_audio(estimate[:count], space.representation, n_iter)  # (K, S), same phases
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
    written.append(write_text_atomic(folder / METRICS_FILE, json.dumps({
        "examples": count, "metrics": result.values, "skipped": result.skipped,
        "reference_audio": "Griffin-Lim of the original spectrogram, same iterations and initial phases",
        "griffin_lim_iterations": n_iter}, indent=2, allow_nan=True)))
    return written
