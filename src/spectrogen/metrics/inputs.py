"""Getting real and generated spectrograms into the evaluation space, the feature network's: the data set's
features mapped to the samples' size and normalised with the network's stored normaliser."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch

from spectrogen.data.dataset import SpectrogramDataset
from spectrogen.errors import CheckpointError, InputError
from spectrogen.metrics.spectral_statistics import magnitude_db
from spectrogen.sampling.convert import SAMPLING_METADATA
from spectrogen.sampling.images import load_spectrogram_file
from spectrogen.spectral.mapping import FeatureMapping
from spectrogen.spectral.normalization import Normalizer
from spectrogen.training.checkpoint import rolling_checkpoints
from spectrogen.training.data_loading import split_indices

# examples mapped at once: bounds memory for large data sets
_CHUNK = 512


def open_data(path) -> Any:
    """Returns the `SpectrogramDataset` in folder `path`; InputError says how to make one."""
    if path is None:
        raise InputError("no data set given: pass --data DATA, a folder made by `spectrogen prepare SRC --out DATA`")
    return SpectrogramDataset.open(path)


def dataset_normalizer(dataset, saved: Optional[dict] = None, kind: str = "per_frequency") -> Normalizer:
    """Returns the Normalizer of a saved dict when given, else one of `kind` from the data set's moments."""
    return Normalizer.from_dict(saved) if saved is not None else Normalizer(kind, dataset.moments)


def _cpu_normalizer(normalizer) -> Normalizer:
    # a fresh CPU copy: the caller's module may live on a GPU and must stay there
    return Normalizer.from_dict(normalizer.to_dict() if hasattr(normalizer, "to_dict") else normalizer)


@torch.no_grad()
def normalised_examples(dataset, indices: np.ndarray, normalizer,
                        shape: Optional[tuple[int, int]] = None) -> np.ndarray:
    """Returns the examples `indices` of `dataset` as model inputs of `shape` (default its own), (n, 1, H, W)."""
    mapping = FeatureMapping.of_dataset(dataset, _cpu_normalizer(normalizer), shape)
    indices = np.asarray(indices, dtype=np.int64)
    out = np.empty((len(indices), 1, *mapping.model_shape), dtype=np.float32)
    for start in range(0, len(indices), _CHUNK):
        chunk = np.sort(indices[start:start + _CHUNK])  # sorted reads are sequential on a memory map
        order = np.argsort(np.argsort(indices[start:start + _CHUNK]))
        raw = torch.from_numpy(np.ascontiguousarray(dataset.features[chunk], dtype=np.float32))  # (n, F, T)
        out[start:start + len(chunk)] = mapping.to_model(raw).numpy()[order]
    return out


@torch.no_grad()
def convert_space(x: np.ndarray, source, target) -> np.ndarray:
    """Returns samples (n, 1, H, W) normalised by `source` re-expressed in `target`'s normalisation (Normalizers
    or their dicts of the same resized features: nothing is resized)."""
    if source is None or target is None:
        return x
    source, target = (_cpu_normalizer(n) for n in (source, target))
    if source.to_dict() == target.to_dict():
        return x
    rows = x.shape[-2]
    features = source.for_rows(rows).inverse(torch.as_tensor(x, dtype=torch.float32)[:, 0])  # (n, H, W)
    return target.for_rows(rows)(features).unsqueeze(1).numpy()


def decibel_mapping(normalizer, representation) -> tuple[Optional[Callable[[np.ndarray], np.ndarray]], Optional[str]]:
    """Returns (to_db, None), to_db taking evaluation-space arrays (n, 1, H, W) to dB (n, F, T) on the
    data set's grid, or (None, why) when the data hold no decibels to measure."""
    if representation is None:
        return None, "the data set records no representation, so its decibels are unknown; artifact_ratio is kept"
    if representation.kind == "image":
        return None, ("the data set holds pictures (representation kind 'image'), not sound: there are no "
                      "decibels, so level, spread, silence and tonal figures are left out; artifact_ratio is kept")
    normalizer = _cpu_normalizer(normalizer)
    if normalizer.kind == "per_sample":
        return None, ("per_sample normalisation keeps no example's level, so levels in dB cannot be recovered; "
                      "evaluate with a classifier trained with --normalization per_frequency for the dB figures")

    @torch.no_grad()
    def to_db(x: np.ndarray) -> np.ndarray:
        mapping = FeatureMapping(representation, normalizer, x.shape[-2:])
        out = np.empty((len(x), *mapping.data_shape), dtype=np.float32)
        for start in range(0, len(x), _CHUNK):
            chunk = torch.as_tensor(np.asarray(x[start:start + _CHUNK]), dtype=torch.float32)  # (n, 1, H, W)
            out[start:start + len(chunk)] = magnitude_db(mapping.magnitudes(chunk).numpy())
        return out

    return to_db, None


def load_samples(path) -> np.ndarray:
    """Returns the generated spectrograms in a .npy file as (N, 1, H, W) float32; InputError when malformed."""
    path = Path(path)
    if path.suffix != ".npy":
        raise InputError("--samples takes a .npy file of spectrograms (N, 1, H, W) or (N, H, W)", path)
    stack = load_spectrogram_file(path)  # (N, H, W), checked for shape, type and finiteness
    if len(stack) < 2:
        raise InputError(f"holds {len(stack)} spectrogram; the metrics compare sets of at least 2", path)
    return stack[:, None]


def sampling_record(samples_path) -> dict[str, Any]:
    """Returns the sampling.json written beside a samples.npy by `spectrogen sample` ({} when absent)."""
    record_path = Path(samples_path).parent / SAMPLING_METADATA
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def resolve_checkpoint(target) -> tuple[Path, str]:
    """Returns (checkpoint file, its name) for a .tar file or a run directory (its best, final or latest one)."""
    target = Path(target)
    if target.is_file():
        return target, target.name
    if not target.is_dir():
        raise InputError("no such checkpoint file or run directory", target)
    folder = target / "checkpoints" if (target / "checkpoints").is_dir() else target
    for name in ("best_model.tar", "final_model.tar"):
        if (folder / name).is_file():
            return folder / name, name
    rolling = rolling_checkpoints(folder)
    if rolling:
        return rolling[-1], rolling[-1].name
    raise CheckpointError("holds no checkpoint (best_model.tar, final_model.tar or checkpoint_epoch_N.tar)", target)


def run_heldout_indices(config, count: int, uses_validation: bool) -> Optional[np.ndarray]:
    """Returns the data set indices a run held out from training (its validation split), or None."""
    if not uses_validation or config.data.validation_fraction <= 0:
        return None
    _, heldout = split_indices(count, config.data.validation_fraction, config.training.seed)
    return heldout if len(heldout) else None
