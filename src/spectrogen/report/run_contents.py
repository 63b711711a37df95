"""Everything the report shows, read back from a run directory, so that any finished, stopped or copied run has
its page; what cannot be read (no checkpoint yet, the data set moved) is a note on the page, not an error."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from spectrogen.data.dataset import SpectrogramDataset
from spectrogen.errors import InputError, SpectrogenError
from spectrogen.report.spectrogram_space import SpectrogramSpace
from spectrogen.sampling.load import load_generator
from spectrogen.training.checkpoint import rolling_checkpoints
from spectrogen.training.csv_log import CsvLog
from spectrogen.training.plots import PLOT_NAMES
from spectrogen.training.run_directory import RunDirectory, epoch_sample_files, run_of_checkpoint
from spectrogen.training.summary import RunProgress, read_progress

_PER_EPOCH_PLOT = re.compile(r"_epoch_\d+\.png$")  # one file per epoch: too many to embed
MAX_FAMILY_PLOTS = 6
MAX_SAMPLES = 16  # rows of the samples table; the grid shows all of them
MAX_REAL_EXAMPLES = 8
EVALUATION_FILE = Path("evaluation") / "metrics.json"  # where `spectrogen evaluate RUN` and the demo write
SHOWN_METRICS = ("fid", "kid", "is", "is_real", "precision", "recall", "diversity_ratio", "class_accuracy",
                 "type_coverage", "recognised")
# shown beside the real data's own value (the column + "_real") where there is one
SPECTRAL_METRICS = ("artifact_ratio", "level_db_distance", "spread_db_distance", "silent_frames", "silent_mid",
                    "tonal_db", "tonal_ratio")
PROFILE_KEYS = ("mean_db", "std_db", "mean_db_real", "std_db_real")


@dataclass
class RealExamples:
    """A few examples of the run's data set, in the model's normalised range (N, 1, H, W)."""

    arrays: np.ndarray
    labels: list[Optional[str]]  # class name of each, None when unlabelled
    indices: list[int]  # positions in the data set


@dataclass
class RunContents:
    """What one run directory holds, as the report needs it."""

    root: Path
    config: dict[str, Any]
    history: list[dict[str, Any]]  # rows of epoch_statistics.csv
    metrics: list[dict[str, Any]]  # rows of checkpoint_metrics.csv
    progress: RunProgress
    samples: Optional[np.ndarray] = None  # (n, 1, H, W) of the latest sampling epoch
    samples_epoch: Optional[int] = None
    sample_labels: Optional[list[str]] = None  # class of each sample (conditional models)
    space: Optional[SpectrogramSpace] = None
    checkpoint: Optional[Path] = None
    real: Optional[RealExamples] = None
    family_plots: list[Path] = field(default_factory=list)  # plots/ files the model family drew itself
    notes: list[str] = field(default_factory=list)
    evaluation: list[tuple[str, float]] = field(default_factory=list)  # figures of evaluation/metrics.json
    # the classifier-free figures of evaluation/metrics.json: (column, generated, real or None)
    spectral: list[tuple[str, float, Optional[float]]] = field(default_factory=list)
    spectral_profiles: Optional[dict[str, list[float]]] = None  # per-frequency level and spread in dB, both sides

    @property
    def model_name(self) -> str:
        return str(self.config.get("model", {}).get("name", "unknown"))


def read_run(run_dir: str | Path) -> RunContents:
    """Returns what the run directory `run_dir` holds; raises InputError when it holds no run."""
    run = RunDirectory(Path(run_dir).expanduser())
    if run.root.is_file():
        owner = run_of_checkpoint(run.root)
        hint = f"give its run directory, {owner}" if owner else "give the --output-dir of a `spectrogen train` run"
        raise InputError(f"is a file, not a run directory; {hint}", run.root)
    if not run.root.is_dir():
        raise InputError("no such folder; give the --output-dir of a `spectrogen train` run", run.root)
    if not run.config_json.is_file():
        raise InputError(f"is not a training run: it has no {run.config_json.relative_to(run.root)}; give the "
                         f"folder that `spectrogen train --output-dir` wrote", run.root)
    try:
        config = run.read_config()
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot be read ({exc}); the run directory is damaged", run.config_json) from None
    contents = RunContents(root=run.root, config=config, history=CsvLog(run.epoch_csv).rows(),
                           metrics=[row for row in CsvLog(run.metrics_csv).rows() if len(row) > 1],
                           progress=read_progress(run.root))
    if contents.progress.collapse:
        contents.notes.append(
            f"mode collapse: at epoch {contents.progress.collapse_epoch} {contents.progress.collapse_reason}; "
            f"the generated samples below are not a fair picture of the data. Train longer, try "
            f"training.mode_seeking (e.g. 1; the demo's conditional GAN uses 4), or on a small data set "
            f"training.diffaugment=[\"translation\",\"cutout\"] (see the Sample diversity plot)")
    _read_evaluation(run, contents)
    _read_latest_samples(run, contents)
    contents.family_plots = family_plots(run)
    _read_checkpoint(run, contents)
    if contents.space is not None and contents.space.normalizer is not None:
        # without the run's normaliser real examples could not be shown on the samples' scale
        _read_real_examples(contents)
    return contents


def _read_evaluation(run: RunDirectory, contents: RunContents) -> None:
    path = run.root / EVALUATION_FILE
    if not path.is_file():
        return
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        contents.notes.append(f"{EVALUATION_FILE} cannot be read ({exc})")
        return
    trust = record.get("feature_trust") or {}
    flagged = set(trust.get("not_meaningful") or [])
    metrics = record.get("metrics") or {}
    contents.evaluation = [(f"{name} ({EVALUATION_FILE.parent}/)" + (", NOT MEANINGFUL" if name in flagged else ""),
                            metrics[name]) for name in SHOWN_METRICS if isinstance(metrics.get(name), (int, float))]
    if not trust.get("meaningful", True):
        contents.notes.append(f"evaluation: {trust.get('reason')}: its FID, KID, IS, precision and recall are not "
                              f"meaningful; use more examples per class or `spectrogen evaluate --classifier PATH`")
    contents.spectral = [(name, metrics[name], metrics.get(f"{name}_real")) for name in SPECTRAL_METRICS
                         if isinstance(metrics.get(name), (int, float))]
    profiles = record.get("spectral_profiles")
    if isinstance(profiles, dict) and all(isinstance(profiles.get(key), list) for key in PROFILE_KEYS):
        contents.spectral_profiles = {key: profiles[key] for key in PROFILE_KEYS}


def _read_latest_samples(run: RunDirectory, contents: RunContents) -> None:
    found = epoch_sample_files(run.samples_dir)
    if not found:
        contents.notes.append("no samples yet: samples/ holds no epoch_NNN.npy")
        return
    epoch, path = max(found.items())
    try:
        samples = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        contents.notes.append(f"{path.name} cannot be read ({exc})")
        return
    if samples.ndim != 4 or samples.shape[1] != 1 or not np.isfinite(samples).all():
        contents.notes.append(f"{path.name} holds {samples.shape} arrays with non-finite values or more than "
                              f"one channel; it is not shown")
        return
    contents.samples, contents.samples_epoch = samples.astype(np.float32), epoch


def family_plots(run: RunDirectory) -> list[Path]:
    """Returns the PNGs in plots/ that the model family's figure writer drew, not the trainer's own four."""
    found = sorted(path for path in run.plots_dir.glob("*.png")
                   if path.name not in PLOT_NAMES and not _PER_EPOCH_PLOT.search(path.name))
    return found[:MAX_FAMILY_PLOTS]


def _read_checkpoint(run: RunDirectory, contents: RunContents) -> None:
    """Fills the spectrogram space and sample classes from the newest checkpoint: final, latest rolling, or best."""
    newest = (run.final_checkpoint, *reversed(rolling_checkpoints(run.checkpoints_dir)), run.best_checkpoint)
    path = next((path for path in newest if path.is_file()), None)
    model = contents.config.get("model", {})
    shape = (int(model.get("image_size", 0)), int(model.get("image_width") or model.get("image_size", 0)))
    if contents.samples is not None:
        shape = tuple(contents.samples.shape[-2:])
    contents.space = SpectrogramSpace(None, None, shape)  # until a checkpoint says how to show and play them
    if path is None:
        contents.notes.append("no checkpoint yet: spectrograms are shown in normalised units, without audio")
        return
    try:
        loaded = load_generator(path, device="cpu")
    except SpectrogenError as exc:
        contents.notes.append(f"the checkpoint could not be read ({exc}); spectrograms are shown in "
                              f"normalised units, without audio")
        return
    contents.checkpoint = path
    contents.space = SpectrogramSpace(loaded.representation, loaded.normalizer, shape)
    classes = loaded.class_names or [str(i) for i in range(int(getattr(loaded.method, "num_classes", 0) or 0))]
    if loaded.conditional and classes and contents.samples is not None:
        # the trainer's fixed labels: sample i is of class i mod K (training.trainer)
        contents.sample_labels = [classes[i % len(classes)] for i in range(len(contents.samples))]


def _read_real_examples(contents: RunContents) -> None:
    """Picks a few examples of the run's data set (one or two per class) when it is still at its path."""
    location = contents.config.get("data", {}).get("path")
    if not location:
        return
    try:
        dataset = SpectrogramDataset.open(location)
    except SpectrogenError:
        contents.notes.append(f"the data set {location} is no longer readable there: real examples are left out")
        return
    indices = example_indices(dataset.labels, len(dataset.class_names), MAX_REAL_EXAMPLES)
    if not indices:
        return
    raw = np.asarray(dataset.features[indices], dtype=np.float32)  # (n, F, T)
    try:
        arrays = contents.space.normalise(raw)
    except SpectrogenError as exc:
        contents.notes.append(f"the data set {location} does not fit the checkpoint ({exc}): real examples "
                              f"are left out")
        return
    names = dataset.class_names
    labels = [names[int(dataset.labels[i])] if names else None for i in indices]
    contents.real = RealExamples(arrays=arrays, labels=labels, indices=[int(i) for i in indices])


def example_indices(labels: np.ndarray, num_classes: int, count: int, seed: int = 0) -> list[int]:
    """Returns up to `count` seeded example positions, spread evenly over the classes (class order)."""
    rng = np.random.default_rng(seed)
    if num_classes <= 1:
        n = min(count, len(labels))
        return sorted(int(i) for i in rng.choice(len(labels), size=n, replace=False)) if n else []
    per_class = max(1, min(2, count // num_classes))
    chosen: list[int] = []
    for label in range(num_classes):
        members = np.flatnonzero(np.asarray(labels) == label)
        take = min(per_class, len(members), count - len(chosen))
        if take > 0:
            chosen += sorted(int(i) for i in rng.choice(members, size=take, replace=False))
    return chosen
