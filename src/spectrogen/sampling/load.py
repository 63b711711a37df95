"""Load what sampling needs from a checkpoint (`weights_only=True`): the generator rebuilt from the saved model
section and data entry alone, with the weights training sampled with, the normaliser and the representation."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import torch

from spectrogen.config import ExperimentConfig
from spectrogen.config.loader import saved_config
from spectrogen.data.info import DataInfo
from spectrogen.errors import CheckpointError, ConfigError, SpectrogenError, UsageError
from spectrogen.models.method import TrainingMethod
from spectrogen.models.registry import build_sampler
from spectrogen.spectral.normalization import Normalizer
from spectrogen.spectral.representation import Representation
from spectrogen.training.checkpoint import load_checkpoint
from spectrogen.training.device import device_for_flag


@dataclass
class LoadedGenerator:
    """A model ready to sample, with what turns its output back into features and audio."""

    method: TrainingMethod
    config: ExperimentConfig  # as saved with the checkpoint (`saved_config`)
    normalizer: Optional[torch.nn.Module]  # maps features to the model's range; `.inverse` undoes it
    representation: Optional[Any]  # how audio became the features; None or kind "image" for images
    class_names: list[str] = field(default_factory=list)
    path: Optional[Path] = None

    @property
    def model_name(self) -> str:
        return self.method.name

    @property
    def conditional(self) -> bool:
        return bool(getattr(self.method, "conditional", False))

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one sample."""
        return tuple(self.method.info.shape)

    def class_index(self, name_or_index: str | int) -> int:
        """Returns the class index that a class name or an index (as int or text) names."""
        if not self.conditional:
            raise UsageError(f"{self.path or 'this checkpoint'} holds an unconditional {self.model_name} "
                             f"model: --class applies to conditional models (cgan, diffusion with classes)")
        names = self.class_names or [str(i) for i in range(self.method.num_classes)]
        if str(name_or_index) in names:
            return names.index(str(name_or_index))
        text = str(name_or_index).strip()
        if text.lstrip("-").isdigit() and 0 <= int(text) < len(names):
            return int(text)
        listed = ", ".join(f"{i}: {name}" for i, name in enumerate(names))
        raise UsageError(f"unknown class {name_or_index!r}; the model knows {len(names)} classes ({listed})")

    def label_names(self, labels) -> list[str]:
        """Returns the class name of each label index."""
        names = self.class_names or [str(i) for i in range(self.method.num_classes)]
        return [names[int(i)] for i in labels]


def load_generator(path, device: str | torch.device = "cpu") -> LoadedGenerator:
    """Returns the sampling model stored in checkpoint `path`, on `device`; raises CheckpointError for bad files."""
    path = Path(path)
    checkpoint = load_checkpoint(path)
    data = checkpoint["data"]
    if not isinstance(data, dict) or "shape" not in data:
        raise CheckpointError("its 'data' entry lacks the example shape [C, H, W]", path)
    if not isinstance(checkpoint["config"], dict):
        raise CheckpointError("its 'config' entry is not a configuration mapping", path)
    try:
        config = saved_config(checkpoint["config"], source=f"configuration saved in {path}")
    except ConfigError as exc:
        raise CheckpointError(f"its saved model section is not valid for this spectrogen version: {exc}",
                              path) from None
    if checkpoint["model"] != config.model.name:
        raise CheckpointError(f"says model {checkpoint['model']!r} but its configuration says "
                              f"{config.model.name!r}; the file is inconsistent", path)
    info = DataInfo(shape=tuple(int(s) for s in data["shape"]), class_names=list(data.get("class_names") or []))
    try:
        method = build_sampler(config, info, device if isinstance(device, torch.device) else device_for_flag(device))
    except ConfigError as exc:
        raise CheckpointError(f"its configuration does not fit its data entry: {exc}", path) from None
    _restore_sampling_networks(method, checkpoint["method"], path)
    method.train(False)
    return LoadedGenerator(method=method, config=config, class_names=info.class_names, path=path,
                           normalizer=_saved(Normalizer, data.get("normalizer"), "normaliser", path, method.device),
                           representation=_saved(Representation, data.get("representation"), "representation", path))


def _restore_sampling_networks(method: TrainingMethod, state: Any, path: Path) -> None:
    """Loads into each sampling network the weights training sampled with: its moving average, where kept."""
    networks = state.get("networks") if isinstance(state, dict) else None
    if not isinstance(networks, dict):
        raise CheckpointError("its 'method' entry holds no network weights", path)
    for name in method.sampling_networks:
        weights = networks.get(f"{name}_ema", networks.get(name))
        if weights is None:
            raise CheckpointError(f"holds none of the networks a {method.name} model samples with ({name}); "
                                  f"found {', '.join(networks) or 'none'}", path)
        try:
            method.networks[name].load_state_dict(weights)
        except (RuntimeError, KeyError, ValueError) as exc:
            first = str(exc).splitlines()[0][:200]
            raise CheckpointError(f"its weights do not fit the model its configuration describes ({first})",
                                  path) from None


def _saved(kind, saved: Optional[dict], what: str, path: Path, device: Optional[torch.device] = None):
    """Returns the Normalizer or Representation saved in the data entry (on `device`), None when there is none."""
    if saved is None:
        return None
    try:
        restored = kind.from_dict(saved)
        return restored if device is None else restored.to(device)
    except (KeyError, TypeError, ValueError, SpectrogenError) as exc:
        raise CheckpointError(f"its saved {what} is malformed ({exc})", path) from None
