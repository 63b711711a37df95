"""Feature networks for the metrics: run one over many spectrograms, or load one from a path.

A feature network is either spectrogen's own classifier (`--classifier`, made by
`spectrogen evaluate --train-classifier`) or a network a user exported himself (`--inception`): a
`torch.export` program (.pt2) or a TorchScript file. Such a network takes (B, 1, F, T) float
spectrograms normalised per frequency to [-1, 1] (resizing to its own input size, e.g. 299x299x3 for
Inception-v3, is its own job) and returns either features (B, D) or a pair (features (B, D),
logits (B, K)). Nothing is ever downloaded.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Union

import numpy as np
import torch

from spectrogen.errors import CheckpointError, InputError


@dataclass
class Features:
    """Penultimate features (N, D) and, where the network classifies, class probabilities (N, K)."""

    embeddings: np.ndarray
    probabilities: Optional[np.ndarray] = None

    def subset(self, index) -> "Features":
        """Returns the features of the examples selected by `index`."""
        return Features(self.embeddings[index], None if self.probabilities is None else self.probabilities[index])


def as_spectrogram_batch(x, input_shape: Optional[tuple[int, int]], source: str) -> np.ndarray:
    """Returns x as (N, 1, F, T), raising InputError when it is not a batch of the network's shape."""
    array = np.asarray(x)
    if array.ndim == 3:
        array = array[:, None]
    if array.ndim != 4 or array.shape[1] != 1:
        raise InputError(f"expected spectrograms shaped (N, F, T) or (N, 1, F, T), got {array.shape}")
    if input_shape is not None and tuple(array.shape[-2:]) != tuple(input_shape):
        raise InputError(
            f"the feature network {source} was trained on {input_shape[0]}x{input_shape[1]} spectrograms, "
            f"these are {array.shape[-2]}x{array.shape[-1]}; train one on this data set with "
            "`spectrogen evaluate --train-classifier DATA --out CLASSIFIER.pt`"
        )
    return array


@torch.no_grad()
def batched_forward(forward: Callable[[torch.Tensor], Any], x, input_shape: Optional[tuple[int, int]], *,
                    batch_size: int = 256, device: str | torch.device = "cpu",
                    source: str = "") -> tuple[np.ndarray, Optional[np.ndarray]]:
    """Returns (features (N, D), probabilities (N, K) or None) of `forward` over x (N, [1,] F, T) in batches."""
    array = as_spectrogram_batch(x, input_shape, source)
    features, probabilities = [], []
    for start in range(0, len(array), batch_size):
        batch = torch.as_tensor(np.ascontiguousarray(array[start:start + batch_size]), dtype=torch.float32)
        out = forward(batch.to(device))  # (B, D) or ((B, D), (B, K))
        first, second = (out if isinstance(out, (tuple, list)) else (out, None))
        features.append(first.float().cpu().numpy().reshape(len(batch), -1))
        if second is not None:
            probabilities.append(second.float().cpu().numpy())
    embeddings = np.concatenate(features).astype(np.float64)
    return embeddings, (np.concatenate(probabilities).astype(np.float64) if probabilities else None)


class ExportedFeatureNetwork:
    """A user's own feature extractor from a local .pt2 (torch.export) or TorchScript file."""

    kind = "exported"

    def __init__(self, module: Callable, path: str):
        self.module = module
        self.path = path
        self.input_shape: Optional[tuple[int, int]] = None  # whatever the module accepts
        self.normalizer: Optional[dict[str, Any]] = None  # the data set's per-frequency normalisation is used
        self.class_names: list[str] = []

    def extract(self, x, *, batch_size: int = 256, device: str | torch.device = "cpu") -> Features:
        """Returns features (and probabilities when the module also returns logits) of x (N, [1,] F, T)."""
        if hasattr(self.module, "to"):
            self.module.to(device)

        def forward(batch: torch.Tensor):
            out = self.module(batch)
            if isinstance(out, (tuple, list)):
                return out[0], out[1].softmax(dim=1)
            return out

        try:
            embeddings, probabilities = batched_forward(forward, x, None, batch_size=batch_size, device=device)
        except InputError:
            raise
        except Exception as exc:
            raise InputError(f"the feature network failed on input of shape (B, 1, {np.shape(x)[-2]}, "
                             f"{np.shape(x)[-1]}): {type(exc).__name__}: {exc}", self.path) from None
        if probabilities is not None:
            self.class_names = [f"class_{i}" for i in range(probabilities.shape[1])]
        return Features(embeddings, probabilities)

    def describe(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind}


def load_exported_network(path: Union[str, Path]) -> ExportedFeatureNetwork:
    """Returns the feature extractor in a local torch.export (.pt2) or TorchScript file."""
    path = Path(path)
    if not path.is_file():
        raise InputError("feature network file not found (nothing is downloaded; pass a local file)", path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript still loads, deprecated or not
            if path.suffix == ".pt2":
                module = torch.export.load(str(path)).module()
            else:
                module = torch.jit.load(str(path), map_location="cpu").eval()
    except Exception as exc:
        raise CheckpointError(
            f"not a torch.export (.pt2) or TorchScript file ({type(exc).__name__}: {exc}); a plain state_dict "
            "cannot be used, since it does not carry its network", path) from None
    return ExportedFeatureNetwork(module, str(path))


def load_feature_network(classifier: Union[str, Path, None] = None, inception: Union[str, Path, None] = None):
    """Returns the feature network of a spectrogen classifier file or of an exported network (exactly one)."""
    if (classifier is None) == (inception is None):
        raise InputError("give exactly one feature network: a classifier made by `evaluate --train-classifier` "
                         "or an exported network (--inception)")
    if inception is not None:
        return load_exported_network(inception)
    from spectrogen.metrics.classifier import load_classifier

    return load_classifier(classifier)
