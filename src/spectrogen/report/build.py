"""`write_report(run_dir)`: read a run directory, draw its figures, write its sounds, write report.html."""

from __future__ import annotations

import datetime
from dataclasses import replace
from pathlib import Path
from typing import Any, Optional

import numpy as np

from spectrogen import __version__
from spectrogen.atomic import write_text_atomic
from spectrogen.errors import SpectrogenError
from spectrogen.report.audio_files import AUDIO_FOLDER, AudioFolder
from spectrogen.metrics.table import DESCRIPTIONS
from spectrogen.report.figures import (BOOKKEEPING, Plot, grid_png, metric_plot, spectral_profile_plot,
                                       spectrogram_png, statistics_plots)
from spectrogen.report.page import MediaRow, render_page
from spectrogen.report.run_contents import MAX_SAMPLES, RunContents, read_run
from spectrogen.report.spectrogram_space import colour_range
from spectrogen.sampling.audio import LOUDNESS_WORDS
from spectrogen.training.summary import minutes_text, resume_command

REPORT_FILE = "report.html"


def write_report(run_dir: str | Path) -> Path:
    """Returns the path of report.html after (re)writing it, and report_audio/, in the run directory `run_dir`.

    Raises InputError when `run_dir` holds no training run."""
    contents = read_run(run_dir)
    config = contents.config
    plots = statistics_plots(contents.history, config.get("monitor", {}).get("collapse_threshold"))
    metrics = metric_plot(contents.metrics)
    if metrics is not None:
        plots.append(metrics)
    plots += [Plot(path.stem.replace("_", " ").capitalize(),
                   f"plots/{path.name}, drawn by the {contents.model_name} model during training", path.read_bytes())
              for path in contents.family_plots]

    audio = AudioFolder(contents.root)
    grid, samples, real = _spectrogram_media(contents, audio)
    loudness = config.get("output", {}).get("loudness", "data")
    samples, real, audio_caption = _audio_sources(audio, samples, real, loudness)
    audio.publish()
    profile = spectral_profile_plot(contents.spectral_profiles) if contents.spectral_profiles else None
    page = render_page(
        title=f"{run_name(contents.root)}: {contents.model_name} run report",
        subtitle=f"{contents.root} · written {datetime.datetime.now():%Y-%m-%d %H:%M} by spectrogen {__version__}",
        notes=contents.notes, summary=_summary(contents), plots=plots, grid=grid,
        grid_caption=_grid_caption(contents), samples=samples, real=real, audio_caption=audio_caption,
        real_caption=_real_caption(contents),
        no_audio_reason=_no_audio_reason(contents), config=config,
        spectral=[(name, generated, real, DESCRIPTIONS.get(name, (None, ""))[1])
                  for name, generated, real in contents.spectral],
        spectral_plots=[profile] if profile is not None else [])
    path = contents.root / REPORT_FILE
    write_text_atomic(path, page)
    return path


def _spectrogram_media(contents: RunContents, audio: AudioFolder):
    """Returns (grid PNG, sample rows, real rows); writes the .wav files of both when there is sound."""
    space = contents.space
    if contents.samples is None or space is None:
        return None, [], []
    samples = contents.samples[:MAX_SAMPLES]  # (n, 1, H, W)
    shown = space.display(contents.samples)  # (N, rows, cols)
    real_shown = space.display(contents.real.arrays) if contents.real is not None else np.zeros((0,))
    low, high = colour_range(shown, real_shown, decibels=space.audible)
    options = dict(representation=space.axes_representation, value_label=space.value_label, vmin=low, vmax=high)
    grid = grid_png(shown, captions=contents.sample_labels, **options)

    def rows(prefix: str, arrays: np.ndarray, images: np.ndarray, labels: list, suffixes: list[str]):
        names = [f"{prefix}_{i + 1:02d}" for i in range(len(arrays))]
        clips = _audio(contents, audio, arrays, names)
        return [MediaRow(name + suffix, label, spectrogram_png(image, **options), clip)
                for name, suffix, label, image, clip in zip(names, suffixes, labels, images, clips)]

    sample_rows = rows("sample", samples, shown, contents.sample_labels or [None] * len(samples), [""] * len(samples))
    real = contents.real
    real_rows = [] if real is None else rows("real", real.arrays, real_shown, real.labels,
                                             [f" (example {index})" for index in real.indices])
    return grid, sample_rows, real_rows


def _audio_sources(audio: AudioFolder, samples: list[MediaRow], real: list[MediaRow], loudness: str):
    """Returns (sample rows, real rows, caption) with each player's source embedded when the clips fit the page."""
    rows = samples + real
    if not any(row.audio for row in rows):
        return samples, real, None
    level = f"Generated and real clips are {LOUDNESS_WORDS.get(loudness, loudness)} (output.loudness={loudness})."
    if not audio.embeddable():
        return samples, real, (f"{level} The clips are too large to embed in this page: the players load them "
                               f"from {AUDIO_FOLDER}/ beside report.html; copy that folder with the page.")
    embedded = [replace(row, audio=audio.data_uri(row.audio)) for row in rows]
    return (embedded[:len(samples)], embedded[len(samples):],
            f"{level} They are embedded in this page, which plays on its own; the same files are in {AUDIO_FOLDER}/.")


def _audio(contents: RunContents, audio: AudioFolder, arrays: np.ndarray, names: list[str]) -> list[Optional[str]]:
    """Returns the page-relative .wav path of each array (None for all when the run has no sound)."""
    space = contents.space
    if not space.audible:
        return [None] * len(names)
    output = contents.config.get("output", {})
    try:
        clips = space.audio(arrays, n_iter=int(output.get("griffin_lim_iterations", 32)), seed=0)  # (n, S)
    except SpectrogenError as exc:
        contents.notes.append(f"audio could not be made ({exc})")
        return [None] * len(names)
    return audio.write(names, clips, space.representation.sample_rate, output.get("loudness", "data"))


def _no_audio_reason(contents: RunContents) -> Optional[str]:
    """Returns why the samples have no audio players, or None when they have them."""
    space = contents.space
    if space is None or space.audible:
        return None
    if getattr(space.representation, "kind", None) == "image":
        return "The data are images, not audio spectrograms: there is nothing to listen to."
    return "Without a readable checkpoint the samples cannot be turned back into sound."


def _grid_caption(contents: RunContents) -> str:
    if contents.samples is None:
        return ""
    space = contents.space
    scale = ("in dB of the STFT magnitude, after undoing the normalisation" if space.audible
             else "in the model's normalised units")
    return (f"the {len(contents.samples)} fixed-noise samples of epoch {contents.samples_epoch} "
            f"(samples/epoch_{contents.samples_epoch:03d}.npy), {scale}; each tile runs in time from left to "
            f"right, low frequencies at its bottom")


def _real_caption(contents: RunContents) -> str:
    location = contents.config.get("data", {}).get("path")
    return (f"from the data set {location}, normalised and resized as training saw them, then drawn and "
            f"turned into sound in exactly the same way as the generated samples (one colour scale for both)")


def run_name(root: Path) -> str:
    """Returns how the report names a run: its folder with the folder above ("spectrogen_demo/run")."""
    resolved = root.resolve()
    return f"{resolved.parent.name}/{resolved.name}" if resolved.parent.name else resolved.name


def _summary(contents: RunContents) -> list[tuple[str, Any]]:
    """Returns the (name, value) rows of the summary table."""
    config = contents.config
    model, training = config.get("model", {}), config.get("training", {})
    history = contents.history
    size = f"{model.get('image_size')}x{model.get('image_width') or model.get('image_size')}"
    rows: list[tuple[str, Any]] = [
        ("model", f"{contents.model_name}, {size}, widths G {model.get('features_g')} / D {model.get('features_d')}"),
        ("data set", config.get("data", {}).get("path")),
        ("epochs completed", f"{history[-1]['epoch'] if history else 0} of {training.get('epochs')}"),
    ]
    if history:
        rows.append(("training time", minutes_text(contents.progress.trained_seconds)))
    rows.append(("continue with", resume_command(contents.progress)))
    if history:
        last = history[-1]
        shown = [key for key in last
                 if key.startswith(("loss", "val_loss", "d_real", "d_fake")) and key not in BOOKKEEPING]
        rows += [(f"{key}, last epoch", last[key]) for key in shown if isinstance(last[key], (int, float))]
    if contents.metrics:
        last = contents.metrics[-1]
        rows += [(f"{key}, epoch {last.get('epoch')}", value) for key, value in last.items()
                 if key != "epoch" and isinstance(value, (int, float))]
    rows += contents.evaluation
    if contents.checkpoint is not None:
        rows.append(("checkpoint used for sound", str(contents.checkpoint.relative_to(contents.root))))
    return rows
