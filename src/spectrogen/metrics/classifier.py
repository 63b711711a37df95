"""The feature network of the metrics: a small spectrogram CNN, and its self-describing file.

Like the SpecGAN paper's SC09 classifier, it stands in for Inception-v3, whose weights cannot be had
offline. Its penultimate layer gives the features of FID, KID and precision/recall; its softmax the
class probabilities of the Inception score and of the per-class accuracy of conditional models.
"""

from __future__ import annotations

import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

import numpy as np
import torch
from torch import nn

from spectrogen import __version__
from spectrogen.atomic import replacing
from spectrogen.errors import CheckpointError, InputError
from spectrogen.metrics.features import Features, batched_forward

CLASSIFIER_FORMAT = "spectrogen-classifier"
CLASSIFIER_FORMAT_VERSION = 1


def _block(c_in: int, c_out: int, convolutions: int) -> nn.Sequential:
    # a stride-2 convolution halves both axes; a further one widens the receptive field at that scale
    layers: list[nn.Module] = []
    for index in range(convolutions):
        layers += [nn.Conv2d(c_in if index == 0 else c_out, c_out, 3, stride=2 if index == 0 else 1, padding=1,
                             bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class SpectrogramClassifier(nn.Module):
    """Four stride-2 conv blocks, mean over time, a linear feature layer and a linear class head.

    The two full-resolution blocks have one convolution each, the two coarse ones two: at 128x128
    the fine scales would otherwise take most of the compute for little gain.

    Pooling averages over time only: when a sound happens should not matter, but which frequencies
    it occupies does, so the frequency rows stay in the feature layer's input.
    """

    def __init__(self, input_shape: tuple[int, int], num_classes: int, width: int = 8, feature_dim: int = 128):
        super().__init__()
        self.input_shape = tuple(input_shape)
        channels = [1, width, 2 * width, 4 * width, 8 * width]
        self.body = nn.Sequential(*[_block(a, b, convolutions) for a, b, convolutions
                                    in zip(channels[:-1], channels[1:], (1, 1, 2, 2))])
        rows = self.input_shape[0]
        for _ in range(4):
            rows = (rows + 1) // 2  # each stride-2 convolution with padding 1 rounds up
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
    """A trained classifier with everything needed to use it on new data.

    `kind` is "supervised" (trained on the data set's classes) or "contrastive" (self-supervised
    embedding of unlabelled data; its class head predicts k-means clusters of that embedding).
    `normalizer` is the data normalisation it was trained with (`Normalizer.to_dict()`), applied
    to un-normalised features before they reach the network.
    """

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

    @property
    def has_probabilities(self) -> bool:
        return len(self.class_names) >= 2

    def extract(self, x: np.ndarray, *, batch_size: int = 256, device: str | torch.device = "cpu") -> Features:
        """Returns features and class probabilities of normalised spectrograms x (N, F, T) or (N, 1, F, T)."""
        self.network.eval().to(device)

        def forward(batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            features, logits = self.network(batch)
            return features, logits.softmax(dim=1)

        embeddings, probabilities = batched_forward(forward, x, self.input_shape, batch_size=batch_size,
                                                    device=device, source=self.path or "the classifier")
        return Features(embeddings, probabilities if self.has_probabilities else None)

    def describe(self) -> dict[str, Any]:
        """Returns what a metrics file says about this network: path, kind, classes, held-out accuracy and
        the training examples (in all and per class), which the trust check reads."""
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
