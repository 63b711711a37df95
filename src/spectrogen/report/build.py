"""`write_report(run_dir)`: read a run directory, draw its figures, write its sounds, write report.html."""

from __future__ import annotations

import base64
import datetime
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from spectrogen import __version__
from spectrogen.atomic import write_text_atomic
from spectrogen.errors import SpectrogenError
from spectrogen.metrics.table import DESCRIPTIONS
from spectrogen.report.figures import (BOOKKEEPING, Plot, grid_png, metric_plot, png_bytes, spectral_profile_plot,
                                       statistics_plots)
from spectrogen.report.page import MediaRow, render_page
from spectrogen.report.run_contents import MAX_SAMPLES, RunContents, read_run
from spectrogen.report.spectrogram_space import colour_range
from spectrogen.sampling.audio import LOUDNESS_WORDS, set_level, write_wav
from spectrogen.sampling.images import spectrogram_figure
from spectrogen.training.summary import minutes_text, resume_command

REPORT_FILE = "report.html"
AUDIO_FOLDER = "report_audio"
# wav bytes the page embeds at most (a third more as base64): room for 24 of the mel preset's 6-second clips
EMBED_BUDGET = 10 * 2**20


class AudioFolder:
    """`report_audio/` of one run, built in a staging folder, then swapped in whole (`publish`)."""

    def __init__(self, run_root: Path):
        self.final = Path(run_root) / AUDIO_FOLDER
        self.staging = Path(run_root) / f".{AUDIO_FOLDER}.tmp"
        if self.staging.exists():
            shutil.rmtree(self.staging)  # left by an interrupted report

    def write(self, names: Sequence[str], audio: np.ndarray, sample_rate: int, loudness: str = "data") -> list[str]:
        """Returns the page-relative paths of one .wav per clip of `audio` (N, S), at the level `loudness` names."""
        self.staging.mkdir(parents=True, exist_ok=True)
        for name, clip in zip(names, set_level(audio, loudness)):
            write_wav(self.staging / f"{name}.wav", clip, sample_rate)
        return [f"{AUDIO_FOLDER}/{name}.wav" for name in names]

    def embeddable(self) -> bool:
        """Returns True when every file written so far fits EMBED_BUDGET together."""
        return sum(path.stat().st_size for path in self.staging.glob("*.wav")) <= EMBED_BUDGET

    def data_uri(self, path: Optional[str]) -> Optional[str]:
        """Returns the staged file behind page-relative `path` as a data: URI (None stays None)."""
        if path is None:
            return None
        data = (self.staging / Path(path).name).read_bytes()
        return "data:audio/wav;base64," + base64.b64encode(data).decode("ascii")

    def publish(self) -> None:
        """Replaces `report_audio/` by the staged files (or removes it when none were written)."""
        if self.final.exists():
            shutil.rmtree(self.final)
        if self.staging.exists():
            self.staging.rename(self.final)


def write_report(run_dir: str | Path) -> Path:
    """Returns the path of report.html after (re)writing it, and report_audio/, in the run directory `run_dir`."""
    contents = read_run(run_dir)
    config = contents.config
    plots = statistics_plots(contents.history, config.get("monitor", {}).get("collapse_threshold"))
    plots += metric_plot(contents.metrics)
    plots += [Plot(path.stem.replace("_", " ").capitalize(),
                   f"plots/{path.name}, drawn by the {contents.model_name} model during training", path.read_bytes())
              for path in contents.family_plots]

    audio = AudioFolder(contents.root)
    grid, samples, real = _spectrogram_media(contents, audio)
    loudness = config.get("output", {}).get("loudness", "data")
    samples, real, audio_caption = _audio_sources(audio, samples, real, loudness)
    audio.publish()
    folder = contents.root.resolve()  # named with the folder above: "spectrogen_demo/run"
    name = f"{folder.parent.name}/{folder.name}" if folder.parent.name else folder.name
    page = render_page(
        title=f"{name}: {contents.model_name} run report",
        subtitle=f"{contents.root} · written {datetime.datetime.now():%Y-%m-%d %H:%M} by spectrogen {__version__}",
        notes=contents.notes, summary=_summary(contents), plots=plots, grid=grid,
        grid_caption=_grid_caption(contents), samples=samples, real=real, audio_caption=audio_caption,
        real_caption=f"from the data set {config.get('data', {}).get('path')}, normalised and resized as training "
                     f"saw them, then drawn and turned into sound in exactly the same way as the generated samples "
                     f"(one colour scale for both)",
        no_audio_reason=_no_audio_reason(contents), config=config,
        spectral=[(name, generated, real, DESCRIPTIONS.get(name, (None, ""))[1])
                  for name, generated, real in contents.spectral],
        spectral_plots=spectral_profile_plot(contents.spectral_profiles or {}))
    return write_text_atomic(contents.root / REPORT_FILE, page)


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
        return [MediaRow(name + suffix, label, png_bytes(spectrogram_figure(image, **options), dpi=72), clip)
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


def _summary(contents: RunContents) -> list[tuple[str, Any]]:
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
        rows += [(f"{key}, last epoch", value) for key, value in history[-1].items()
                 if key.startswith(("loss", "val_loss", "d_real", "d_fake")) and key not in BOOKKEEPING
                 and isinstance(value, (int, float))]
    if contents.metrics:
        last = contents.metrics[-1]
        rows += [(f"{key}, epoch {last.get('epoch')}", value) for key, value in last.items()
                 if key != "epoch" and isinstance(value, (int, float))]
    rows += contents.evaluation
    if contents.checkpoint is not None:
        rows.append(("checkpoint used for sound", str(contents.checkpoint.relative_to(contents.root))))
    return rows
