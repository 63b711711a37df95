"""Feature networks of the metrics: a small spectrogram CNN standing in for Inception-v3 (as SpecGAN's SC09
classifier does), or a user's exported network (`--inception`, a local file) taking (B, 1, F, T) spectrograms."""

from __future__ import annotations

import pickle
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Literal, Optional, Union

import numpy as np
import torch
from torch import nn

from spectrogen import __version__
from spectrogen.atomic import replacing
from spectrogen.errors import CheckpointError, InputError

CLASSIFIER_FORMAT = "spectrogen-classifier"
CLASSIFIER_FORMAT_VERSION = 1


@dataclass
class Features:
    """Penultimate features (N, D) and, where the network classifies, class probabilities (N, K)."""

    embeddings: np.ndarray
    probabilities: Optional[np.ndarray] = None


@torch.no_grad()
def batched_forward(module: Callable[[torch.Tensor], Any], x, input_shape: Optional[tuple[int, int]], *,
                    batch_size: int = 256, device: str | torch.device = "cpu",
                    source: str = "") -> tuple[np.ndarray, Optional[np.ndarray]]:
    """Returns (features (N, D), probabilities (N, K) or None) of x (N, [1,] F, T) through `module`, in batches."""
    array = np.asarray(x)
    array = array[:, None] if array.ndim == 3 else array
    if array.ndim != 4 or array.shape[1] != 1:
        raise InputError(f"expected spectrograms shaped (N, F, T) or (N, 1, F, T), got {array.shape}")
    if input_shape is not None and tuple(array.shape[-2:]) != tuple(input_shape):
        raise InputError(
            f"the feature network {source} was trained on {input_shape[0]}x{input_shape[1]} spectrograms, "
            f"these are {array.shape[-2]}x{array.shape[-1]}; train one on this data set with "
            "`spectrogen evaluate --train-classifier DATA --out CLASSIFIER.pt`"
        )
    features, probabilities = [], []
    for start in range(0, len(array), batch_size):
        batch = torch.as_tensor(np.ascontiguousarray(array[start:start + batch_size]), dtype=torch.float32)
        out = module(batch.to(device))  # features (B, D), or (features, class logits (B, K))
        first, second = (out[0], out[1].softmax(dim=1)) if isinstance(out, (tuple, list)) else (out, None)
        features.append(first.float().cpu().numpy().reshape(len(batch), -1))
        if second is not None:
            probabilities.append(second.float().cpu().numpy())
    embeddings = np.concatenate(features).astype(np.float64)
    return embeddings, (np.concatenate(probabilities).astype(np.float64) if probabilities else None)


@dataclass
class ExportedFeatureNetwork:
    """A user's own feature extractor from a local .pt2 (torch.export) or TorchScript file."""

    module: Callable
    path: str
    kind: ClassVar[str] = "exported"
    input_shape: Optional[tuple[int, int]] = None
    normalizer: Optional[dict[str, Any]] = None  # the data set's per-frequency normalisation is used
    class_names: list[str] = field(default_factory=list)

    def extract(self, x, *, batch_size: int = 256, device: str | torch.device = "cpu") -> Features:
        """Returns features (and probabilities when the module also returns logits) of x (N, [1,] F, T)."""
        if hasattr(self.module, "to"):
            self.module.to(device)
        try:
            embeddings, probabilities = batched_forward(self.module, x, None, batch_size=batch_size, device=device)
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


def _block(c_in: int, c_out: int, convolutions: int) -> nn.Sequential:
    # a stride-2 convolution halves both axes; a further one widens the receptive field at that scale
    layers: list[nn.Module] = []
    for index in range(convolutions):
        layers += [nn.Conv2d(c_in if index == 0 else c_out, c_out, 3, stride=2 if index == 0 else 1, padding=1,
                             bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class SpectrogramClassifier(nn.Module):
    """Four stride-2 conv blocks (the two coarse ones with two convolutions), mean over time only (when a sound
    happens should not matter, which frequencies it occupies does), a linear feature layer and a class head."""

    def __init__(self, input_shape: tuple[int, int], num_classes: int, width: int = 8, feature_dim: int = 128):
        super().__init__()
        self.input_shape = tuple(input_shape)
        channels = [1, width, 2 * width, 4 * width, 8 * width]
        self.body = nn.Sequential(*[_block(a, b, convolutions) for a, b, convolutions
                                    in zip(channels[:-1], channels[1:], (1, 1, 2, 2))])
        rows = (self.input_shape[0] + 15) // 16  # four stride-2 convolutions with padding 1, each rounding up
        self.features = nn.Sequential(nn.Linear(channels[-1] * rows, feature_dim), nn.ReLU(inplace=True))
        self.head = nn.Linear(feature_dim, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Returns the penultimate features (B, D) of spectrograms x (B, 1, F, T)."""
        h = self.body(x).mean(dim=-1)  # (B, C, F / 16)
        return self.features(h.flatten(1))  # (B, D)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (features (B, D), class logits (B, K)) of spectrograms x (B, 1, F, T)."""
        features = self.embed(x)
        return features, self.head(features)


@dataclass
class FeatureClassifier:
    """A trained classifier and what using it on new data needs: `kind` "supervised" (the data set's classes)
    or "contrastive" (k-means clusters of an embedding of unlabelled data), and its `Normalizer.to_dict()`."""

    network: SpectrogramClassifier
    kind: Literal["supervised", "contrastive"]
    class_names: list[str]
    normalizer: Optional[dict[str, Any]] = None
    heldout: dict[str, Any] = field(default_factory=dict)  # accuracy, count, what the accuracy measures
    training: dict[str, Any] = field(default_factory=dict)  # options, data path and shape, seconds
    path: Optional[str] = None

    @property
    def input_shape(self) -> tuple[int, int]:
        return self.network.input_shape

    def extract(self, x: np.ndarray, *, batch_size: int = 256, device: str | torch.device = "cpu") -> Features:
        """Returns features and class probabilities of normalised spectrograms x (N, F, T) or (N, 1, F, T)."""
        self.network.eval().to(device)
        embeddings, probabilities = batched_forward(self.network, x, self.input_shape, batch_size=batch_size,
                                                    device=device, source=self.path or "the classifier")
        return Features(embeddings, probabilities if len(self.class_names) >= 2 else None)

    def describe(self) -> dict[str, Any]:
        """Returns what a metrics file (and the trust check) says about this network."""
        training = {key: self.training[key] for key in ("examples", "class_counts") if key in self.training}
        return {"path": self.path, "kind": self.kind, "class_names": list(self.class_names),
                "input_shape": list(self.input_shape), "heldout": dict(self.heldout), "training": training}


def save_classifier(classifier: FeatureClassifier, path: str | Path) -> Path:
    """Writes `classifier` to `path` as a file loadable with `weights_only=True`; returns the path."""
    network = classifier.network
    payload = {
        "format": CLASSIFIER_FORMAT, "format_version": CLASSIFIER_FORMAT_VERSION, "spectrogen_version": __version__,
        "kind": classifier.kind,
        "config": {"input_shape": list(network.input_shape), "num_classes": network.head.out_features,
                   "width": network.body[0][0].out_channels, "feature_dim": network.head.in_features},
        "class_names": list(classifier.class_names),
        "normalizer": classifier.normalizer,
        "heldout": classifier.heldout,
        "training": classifier.training,
        "state_dict": {k: v.detach().cpu() for k, v in network.state_dict().items()},
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as temporary:  # a failed write (a full disk, a folder in the way) leaves no half file
        torch.save(payload, temporary)
    return path


def load_classifier(path: str | Path) -> FeatureClassifier:
    """Returns the classifier saved at `path` by `save_classifier`, loaded with `weights_only=True`."""
    path = Path(path)
    if not path.is_file():
        raise InputError("classifier file not found; make one with `spectrogen evaluate --train-classifier DATA "
                         "--out CLASSIFIER.pt`", path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:  # torch's own message suggests loading it unsafely: not ours
        found = re.search(r"GLOBAL (\S+)", str(exc))
        what = f" ({found.group(1)})" if found else ""
        raise CheckpointError(f"refused: the file carries Python code or objects{what} that loading would run. "
                              f"It was not executed. Classifier files hold only tensors, numbers and strings; "
                              f"make one with `spectrogen evaluate --train-classifier`", path) from None
    except Exception as exc:  # truncated files, other formats
        reason = (str(exc).splitlines() or [""])[0][:160]
        raise CheckpointError(f"not a loadable classifier file ({type(exc).__name__}: {reason})", path) from None
    if not isinstance(payload, dict) or payload.get("format") != CLASSIFIER_FORMAT:
        raise CheckpointError(f"not a {CLASSIFIER_FORMAT} file (a training checkpoint or another format?)", path)
    if payload.get("format_version", 0) > CLASSIFIER_FORMAT_VERSION:
        raise CheckpointError(f"written by a newer spectrogen ({payload.get('spectrogen_version')}); upgrade", path)
    config = payload["config"]
    network = SpectrogramClassifier(tuple(config["input_shape"]), config["num_classes"], config["width"],
                                    config["feature_dim"])
    network.load_state_dict(payload["state_dict"])
    return FeatureClassifier(network.eval(), payload["kind"], list(payload["class_names"]), payload["normalizer"],
                             dict(payload["heldout"]), dict(payload["training"]), str(path))


def load_feature_network(classifier: Union[str, Path, None] = None, inception: Union[str, Path, None] = None):
    """Returns the feature network of a spectrogen classifier file or of an exported network (exactly one)."""
    if (classifier is None) == (inception is None):
        raise InputError("give exactly one feature network: a classifier made by `evaluate --train-classifier` "
                         "or an exported network (--inception)")
    return load_exported_network(inception) if inception is not None else load_classifier(classifier)
