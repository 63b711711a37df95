"""TensorBoard event files of a run (`output.tensorboard`) in RUN_DIR/tensorboard/, the epoch as the step: each
epoch statistic under its group (``losses/loss_d``), each metric as ``metrics/<name>``, and at sampling epochs
``samples/grid`` and ``samples/audio_01``… ."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Optional

import numpy as np
from PIL import Image

from spectrogen.errors import UsageError
from spectrogen.report.figures import grid_png, numeric_columns, statistic_groups
from spectrogen.report.spectrogram_space import SpectrogramSpace, colour_range

LOG_FOLDER = "tensorboard"
AUDIO_CLIPS = 4  # Griffin-Lim costs time on every sampling epoch; a few clips are enough to listen to
GROUP_TAGS = {"Losses": "losses", "Critic outputs": "critic", "Gradient norms": "gradient_norms",
              "Learning rates": "learning_rates", "Sample diversity": "diversity", "Other statistics": "statistics"}
INSTALL_HINT = ("output.tensorboard is on (--tensorboard) but the tensorboard package is not installed: "
                "pip install 'spectrogen[tensorboard]' (or pip install tensorboard), or train without --tensorboard")


def scalar_tags(row: dict[str, Any]) -> dict[str, float]:
    """Returns {tag: value} of the epoch statistics in `row`, each tag prefixed by its group."""
    return {f"{GROUP_TAGS[title]}/{key}": float(row[key])
            for title, _, keys in statistic_groups(numeric_columns([row])) for key in keys}


class TensorBoardCallback:
    """Writes one epoch's scalars, and at sampling epochs its sample grid and audio, to RUN_DIR/tensorboard/."""

    def __init__(self, writer_class, griffin_lim_iterations: int = 32):
        self._writer_class = writer_class  # torch.utils.tensorboard.SummaryWriter
        self.griffin_lim_iterations = griffin_lim_iterations
        self.writer = None
        self.log_dir: Optional[Path] = None

    def __call__(self, trainer, epoch: int) -> None:
        if self.writer is None:
            # opened at the first epoch, not before: the run directory exists only once training starts
            self.log_dir = Path(trainer.run.root) / LOG_FOLDER
            self.writer = self._writer_class(log_dir=str(self.log_dir))
        row = getattr(trainer, "epoch_row", None) or {"epoch": epoch, **trainer.method.learning_rates()}
        for tag, value in scalar_tags(row).items():
            self.writer.add_scalar(tag, value, epoch)
        # the metrics of checkpoint_metrics.csv, which the evaluation callback wrote before this one runs
        metrics = next((row for row in reversed(trainer.metrics_log.rows()) if row.get("epoch") == epoch), {})
        for key, value in metrics.items():
            if key != "epoch" and isinstance(value, (int, float)) and np.isfinite(value):
                self.writer.add_scalar(f"metrics/{key}", float(value), epoch)
        if trainer.latest_samples is not None and trainer.latest_samples_epoch == epoch:
            self._add_samples(trainer, epoch)
        self.writer.flush()
        stopping = getattr(getattr(trainer, "stops", None), "reason", None)
        if epoch >= trainer.config.training.epochs or stopping:
            self.close()

    def _add_samples(self, trainer, epoch: int) -> None:
        samples = np.asarray(trainer.latest_samples, dtype=np.float32)  # (n, C, H, W)
        if samples.ndim != 4 or samples.shape[1] != 1:
            return
        data = trainer.data
        space = SpectrogramSpace(getattr(data, "representation", None), getattr(data, "normalizer", None),
                                 tuple(samples.shape[-2:]))
        shown = space.display(samples)  # (n, rows, cols)
        low, high = colour_range(shown, decibels=space.audible)
        png = grid_png(shown, representation=space.axes_representation, value_label=space.value_label,
                       vmin=low, vmax=high, title=f"epoch {epoch}")
        with Image.open(io.BytesIO(png)) as image:
            self.writer.add_image("samples/grid", np.asarray(image.convert("RGB")), epoch, dataformats="HWC")
        if space.audible:
            clips = space.audio(samples[:AUDIO_CLIPS], n_iter=self.griffin_lim_iterations, seed=0)  # (k, S)
            peaks = np.maximum(np.abs(clips).max(axis=1, keepdims=True), 1e-9)
            for index, clip in enumerate(clips / peaks * 0.9):
                self.writer.add_audio(f"samples/audio_{index + 1:02d}", clip[None], epoch,
                                      sample_rate=int(space.representation.sample_rate))

    def close(self) -> None:
        """Flushes and closes the event file (a later epoch opens a new one)."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def tensorboard_callback(config) -> TensorBoardCallback:
    """Returns the TensorBoard callback of a run; raises UsageError when tensorboard is not installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise UsageError(INSTALL_HINT) from None
    return TensorBoardCallback(SummaryWriter, griffin_lim_iterations=config.output.griffin_lim_iterations)
