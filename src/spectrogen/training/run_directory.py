"""The run directory (its names are fixed: tools read them) and the rules for reusing one.

```
OUTPUT_DIR/
  epochs_statistics/epoch_statistics.csv, checkpoint_metrics.csv, experiment_config.json
  single_epochs_statistics/epoch_N/epoch_N_iterations.csv
  samples/epoch_001.npy ...            (n, C, H, W) float32, fixed noise, normalised range
  checkpoints/checkpoint_epoch_N.tar   rolling; best_model.tar, final_model.tar
  plots/epoch_loss_curves.png, gradient_norms.png, generated_samples_grid.png, convergence_analysis.png
```
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any, Optional

import numpy as np

from spectrogen.atomic import open_replacing, write_text_atomic
from spectrogen.errors import OverwriteError
from spectrogen.paths import check_folder_path, check_own_folder, remove_entries
from spectrogen.training.csv_log import CsvLog

# everything a run writes at the top of its directory; --overwrite removes these and nothing else
RUN_ENTRIES = ("epochs_statistics", "single_epochs_statistics", "samples", "checkpoints", "plots",
               "report.html", "report_audio", "tensorboard")

# held (flock) by the process that trains into the folder; a second one is refused while it runs
LOCK_FILE = ".spectrogen.lock"

_EPOCH_FOLDER = re.compile(r"^epoch_(\d+)$")
_SAMPLE_FILE = re.compile(r"^epoch_(\d+)\.npy$")


def run_of_checkpoint(checkpoint: Path) -> Optional[Path]:
    """Returns the run directory a checkpoint belongs to (RUN for RUN/checkpoints/x.tar), None outside one."""
    checkpoint = Path(checkpoint)
    return checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" else None


class RunDirectory:
    """Paths of one run and the file operations on them (only the main process writes)."""

    def __init__(self, root: Path | str):
        self.root = Path(root)

    # --- paths -----------------------------------------------------------------------------------
    @property
    def statistics_dir(self) -> Path:
        return self.root / "epochs_statistics"

    @property
    def epoch_csv(self) -> Path:
        return self.statistics_dir / "epoch_statistics.csv"

    @property
    def metrics_csv(self) -> Path:
        return self.statistics_dir / "checkpoint_metrics.csv"

    @property
    def config_json(self) -> Path:
        return self.statistics_dir / "experiment_config.json"

    @property
    def checkpoints_dir(self) -> Path:
        return self.root / "checkpoints"

    @property
    def samples_dir(self) -> Path:
        return self.root / "samples"

    @property
    def plots_dir(self) -> Path:
        return self.root / "plots"

    def iterations_csv(self, epoch: int) -> Path:
        return self.root / "single_epochs_statistics" / f"epoch_{epoch}" / f"epoch_{epoch}_iterations.csv"

    def rolling_checkpoint(self, epoch: int) -> Path:
        return self.checkpoints_dir / f"checkpoint_epoch_{epoch}.tar"

    @property
    def best_checkpoint(self) -> Path:
        return self.checkpoints_dir / "best_model.tar"

    @property
    def final_checkpoint(self) -> Path:
        return self.checkpoints_dir / "final_model.tar"

    def read_config(self) -> Any:
        """Returns what experiment_config.json holds; raises OSError or ValueError when missing or damaged."""
        return json.loads(self.config_json.read_text(encoding="utf-8"))

    # --- reuse rules -----------------------------------------------------------------------------------
    def _run_refusal(self) -> str:
        return (f"output directory {self.root} already holds a training run; continue it with "
                f"`spectrogen train --resume {self.root}`, replace it with --overwrite, or choose another --output-dir")

    def refuse_existing(self) -> None:
        """Raises OverwriteError when the folder holds a run (the caller passes --resume or --overwrite)."""
        check_folder_path(self.root, "--output-dir")
        # experiment_config.json marks a run; a user's own `checkpoints/` or `plots/` folder does not
        if self.config_json.is_file():
            raise OverwriteError(self._run_refusal())

    def check_new_run(self, overwrite: bool) -> None:
        """Raises OverwriteError unless a new run may be written here without touching the user's files.

        A run is replaced only with `overwrite`, and then only its RUN_ENTRIES. Other files are kept
        with `overwrite` (refused without it), unless one has a name the run writes: refused either way.
        """
        check_folder_path(self.root, "--output-dir")
        check_own_folder(self.root, own=RUN_ENTRIES, marker=str(self.config_json.relative_to(self.root)),
                         overwrite=overwrite, flag="--output-dir", kind="run", refusal=self._run_refusal(),
                         ignore=(LOCK_FILE,))

    def clear_run(self) -> None:
        """Removes the entries a run writes (never other files the user keeps in the folder)."""
        remove_entries(self.root, RUN_ENTRIES)

    def create(self) -> None:
        for folder in (self.statistics_dir, self.checkpoints_dir, self.samples_dir, self.plots_dir,
                       self.root / "single_epochs_statistics"):
            folder.mkdir(parents=True, exist_ok=True)

    def write_config(self, config: dict[str, Any]) -> None:
        self.config_json.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.config_json, json.dumps(config, indent=2) + "\n")

    def rewind(self, epoch: int, step_in_epoch: int) -> None:
        """Forgets what was written after `epoch` completed epochs and `step_in_epoch` steps of the next.

        Work done after the checkpoint a resume starts from was lost; its rows would otherwise appear twice.
        """
        for table in (self.epoch_csv, self.metrics_csv):
            CsvLog(table).keep(lambda row: row.get("epoch") is not None and row["epoch"] <= epoch)
        iterations_root = self.root / "single_epochs_statistics"
        if iterations_root.is_dir():
            for folder in iterations_root.iterdir():
                match = _EPOCH_FOLDER.match(folder.name)
                if not match:
                    continue
                number = int(match.group(1))
                if number > epoch + 1 or (number == epoch + 1 and step_in_epoch == 0):
                    shutil.rmtree(folder)
                elif number == epoch + 1:
                    CsvLog(self.iterations_csv(number)).keep(
                        lambda row: row.get("iteration") is not None and row["iteration"] <= step_in_epoch)
        if self.samples_dir.is_dir():
            for path in self.samples_dir.iterdir():
                match = _SAMPLE_FILE.match(path.name)
                if match and int(match.group(1)) > epoch:
                    path.unlink()
        for folder in (self.checkpoints_dir, self.samples_dir, self.statistics_dir, iterations_root):
            # an interrupted atomic write (checkpoint, samples, CSV rewrite); the real file is intact
            for leftover in folder.rglob("*.tmp") if folder.is_dir() else ():
                leftover.unlink()

    def save_samples(self, epoch: int, samples: np.ndarray) -> Path:
        """Writes the fixed-noise samples (n, C, H, W) of `epoch` as float32 .npy (lossless)."""
        path = self.samples_dir / f"epoch_{epoch:03d}.npy"
        with open_replacing(path, "wb") as handle:
            np.save(handle, samples.astype(np.float32, copy=False))
        return path
