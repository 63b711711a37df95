"""Getting real and generated spectrograms into the evaluation space, from data sets, files and checkpoints.

The evaluation space is the one the feature network was trained in: the data set's features
normalised with the network's stored normaliser (per frequency by default) and resized to the size
of the generated samples, in the order training uses (normalise at the data set's size, then
resize). Generated samples come in their model's normalised range and are converted when that
differs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch

from spectrogen.errors import CheckpointError, InputError
from spectrogen.metrics.spectral_statistics import magnitude_db

SAMPLING_METADATA = "sampling.json"
# examples normalised at once: bounds memory for large data sets
_CHUNK = 512


def open_data(path) -> Any:
    """Returns the `SpectrogramDataset` in folder `path`; InputError says how to make one."""
    from spectrogen.data.dataset import SpectrogramDataset

    if path is None:
        raise InputError("no data set given: pass --data DATA, a folder made by `spectrogen prepare SRC --out DATA`")
    return SpectrogramDataset.open(path)


def dataset_normalizer(dataset, saved: Optional[dict] = None, kind: str = "per_frequency"):
    """Returns the Normalizer of a saved dict when given, else one of `kind` from the data set's moments."""
    from spectrogen.spectral.normalization import Normalizer

    if saved is not None:
        return Normalizer.from_dict(saved)
    return Normalizer(kind, dataset.moments)


def same_normalizer(a, b) -> bool:
    """Returns whether two normalisers (modules or dicts) map features identically."""
    as_dict = [x.to_dict() if hasattr(x, "to_dict") else x for x in (a, b)]
    return as_dict[0] == as_dict[1]


@torch.no_grad()
def normalised_examples(features: np.ndarray, indices: np.ndarray, normalizer,
                        shape: Optional[tuple[int, int]] = None) -> np.ndarray:
    """Returns the examples `indices` of un-normalised features (N, F, T), normalised and resized, (n, 1, H, W)."""
    from spectrogen.spectral.resize import resize

    indices = np.asarray(indices, dtype=np.int64)
    target = tuple(shape) if shape is not None else tuple(features.shape[-2:])
    out = np.empty((len(indices), 1, *target), dtype=np.float32)
    for start in range(0, len(indices), _CHUNK):
        chunk = np.sort(indices[start:start + _CHUNK])  # sorted reads are sequential on a memory map
        order = np.argsort(np.argsort(indices[start:start + _CHUNK]))
        raw = torch.from_numpy(np.ascontiguousarray(features[chunk], dtype=np.float32))  # (n, F, T)
        x = resize(normalizer(raw).unsqueeze(1), target)  # (n, 1, H, W)
        out[start:start + len(chunk)] = x.numpy()[order]
    return out


@torch.no_grad()
def convert_space(x: np.ndarray, source, target, source_shape: tuple[int, int]) -> np.ndarray:
    """Returns samples (n, 1, H, W) normalised by `source` re-expressed in `target`'s normalisation.

    `source` and `target` are Normalizers or their dicts. Normalisation belongs to the data set's
    (F, T) grid, so samples of another size are resized to it, mapped back to features, normalised
    again and resized back.
    """
    if source is None or target is None or same_normalizer(source, target):
        return x
    from spectrogen.spectral.normalization import Normalizer
    from spectrogen.spectral.resize import resize

    # fresh CPU copies: the caller's modules may live on a GPU and must stay there
    source, target = (Normalizer.from_dict(n.to_dict() if hasattr(n, "to_dict") else n) for n in (source, target))
    size = tuple(x.shape[-2:])
    t = resize(torch.as_tensor(x, dtype=torch.float32), tuple(source_shape))  # (n, 1, F, T)
    return resize(target(source.inverse(t)), size).numpy()


def decibel_mapping(normalizer, representation, data_shape: tuple[int, int]
                    ) -> tuple[Optional[Callable[[np.ndarray], np.ndarray]], Optional[str]]:
    """Returns (to_db, None), to_db taking evaluation-space arrays (n, 1, H, W) to dB (n, F, T) on the
    data set's grid, or (None, why) when the data hold no decibels to measure.

    `normalizer` (a Normalizer or its dict) is the evaluation space's, `representation` (or its dict)
    the data set's and `data_shape` its (F, T). Arrays of another size are resized to (F, T) first,
    then un-normalised, decompressed to magnitudes and floored at -120 dB.
    """
    from spectrogen.spectral.compression import decompress
    from spectrogen.spectral.normalization import Normalizer
    from spectrogen.spectral.representation import Representation
    from spectrogen.spectral.resize import resize

    if isinstance(representation, dict):
        representation = Representation.from_dict(representation)
    if representation is None:
        return None, "the data set records no representation, so its decibels are unknown; artifact_ratio is kept"
    if representation.kind == "image":
        return None, ("the data set holds pictures (representation kind 'image'), not sound: there are no "
                      "decibels, so level, spread, silence and tonal figures are left out; artifact_ratio is kept")
    normalizer = Normalizer.from_dict(normalizer.to_dict() if hasattr(normalizer, "to_dict") else normalizer)
    if normalizer.kind == "per_sample":
        return None, ("per_sample normalisation keeps no example's level, so levels in dB cannot be recovered; "
                      "evaluate with a classifier trained with --normalization per_frequency for the dB figures")
    shape, log = tuple(data_shape), representation.log

    @torch.no_grad()
    def to_db(x: np.ndarray) -> np.ndarray:
        out = np.empty((len(x), *shape), dtype=np.float32)
        for start in range(0, len(x), _CHUNK):
            chunk = torch.as_tensor(np.asarray(x[start:start + _CHUNK]), dtype=torch.float32)  # (n, 1, H, W)
            magnitude = decompress(normalizer.inverse(resize(chunk, shape)[:, 0]), log)  # (n, F, T)
            out[start:start + len(chunk)] = magnitude_db(magnitude.numpy())
        return out

    return to_db, None


def load_samples(path) -> np.ndarray:
    """Returns the generated spectrograms in a .npy file as (N, 1, H, W) float32; InputError when malformed."""
    from spectrogen.sampling.arrays import load_spectrogram_file

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
    """Returns (checkpoint file, which one) for a .tar file or a run directory.

    In a run directory: best_model.tar, else final_model.tar, else the latest rolling checkpoint.
    """
    from spectrogen.training.checkpoint import rolling_checkpoints

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
    """Returns the data set indices a run held out from training (its validation split), or None.

    Only methods that use a validation split hold data out; the others trained on every example.
    """
    from spectrogen.training.data_loading import split_indices

    if not uses_validation or config.data.validation_fraction <= 0:
        return None
    _, heldout = split_indices(count, config.data.validation_fraction, config.training.seed)
    return heldout if len(heldout) else None
