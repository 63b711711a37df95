"""Load what sampling needs from a checkpoint: the sampling networks, the normaliser, the representation.

The checkpoint is read with `weights_only=True` (`spectrogen.training.checkpoint.load_checkpoint`),
so a file carrying code is refused before anything in it runs. The model is rebuilt from the
configuration saved in the checkpoint, and only its sampling networks (the EMA copy when training
kept one) are restored; optimiser states are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import torch

from spectrogen.errors import CheckpointError, ConfigError, SpectrogenError, UsageError
from spectrogen.models.registry import build_method
from spectrogen.training.checkpoint import FORMAT_VERSION, load_checkpoint
from spectrogen.data.info import DataInfo
from spectrogen.models.method import TrainingMethod


@dataclass
class LoadedGenerator:
    """A model ready to sample, with what turns its output back into features and audio."""

    method: TrainingMethod
    config: Any  # the ExperimentConfig saved with the checkpoint
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
    version = checkpoint.get("format_version")
    if version < FORMAT_VERSION:  # load_checkpoint already refuses newer ones
        raise CheckpointError(f"checkpoint format version {version!r} is older than the one this spectrogen "
                              f"reads ({FORMAT_VERSION}); sample it with the spectrogen version that wrote it", path)
    config = _saved_config(checkpoint, path)
    data = checkpoint["data"]
    if not isinstance(data, dict) or "shape" not in data:
        raise CheckpointError("its 'data' entry lacks the example shape [C, H, W]", path)
    info = DataInfo(shape=tuple(int(s) for s in data["shape"]), class_names=list(data.get("class_names") or []))
    if checkpoint["model"] != config.model.name:
        raise CheckpointError(f"says model {checkpoint['model']!r} but its configuration says "
                              f"{config.model.name!r}; the file is inconsistent", path)
    device = _device(device)
    try:
        method = build_method(config, info, device)
    except ConfigError as exc:
        raise CheckpointError(f"its configuration does not fit its data entry: {exc}", path) from None
    _restore_sampling_networks(method, checkpoint["method"], path)
    method.train(False)
    return LoadedGenerator(method=method, config=config, normalizer=_normalizer(data, method.device, path),
                           representation=_representation(data, path), class_names=info.class_names, path=path)


def _saved_config(checkpoint: dict, path: Path):
    """Returns the validated ExperimentConfig stored in the checkpoint."""
    from spectrogen.config import build_config

    if not isinstance(checkpoint["config"], dict):
        raise CheckpointError("its 'config' entry is not a configuration mapping", path)
    try:
        return build_config(checkpoint["config"], source=f"configuration saved in {path}")
    except ConfigError as exc:
        raise CheckpointError(f"its saved configuration is not valid for this spectrogen version: {exc}", path) from None


def _restore_sampling_networks(method: TrainingMethod, state: Any, path: Path) -> None:
    """Loads only the networks `method` samples with (falling back to what the method itself accepts)."""
    networks = state.get("networks") if isinstance(state, dict) else None
    if not isinstance(networks, dict):
        raise CheckpointError("its 'method' entry holds no network weights", path)
    wanted = method.sampling_networks or tuple(method.networks)
    # an EMA checkpoint holds the raw generator too; a checkpoint without EMA only the raw one, which
    # the method then samples from (its load_state_dict knows the fallbacks)
    present = {key: networks[key] for key in wanted if key in networks}
    if not present:
        present = {key: value for key, value in networks.items() if key in method.networks}
    if not present:
        raise CheckpointError(f"holds none of the networks a {method.name} model samples with "
                              f"({', '.join(wanted)}); found {', '.join(networks) or 'none'}", path)
    try:
        method.load_state_dict({"networks": present}, networks_only=True)
    except (RuntimeError, KeyError, ValueError) as exc:
        first = str(exc).splitlines()[0][:200]
        raise CheckpointError(f"its weights do not fit the model its configuration describes ({first})", path) from None


def _normalizer(data: dict, device: torch.device, path: Path):
    """Returns the saved Normalizer on `device`, or None when the checkpoint has none."""
    saved = data.get("normalizer")
    if saved is None:
        return None
    from spectrogen.spectral.normalization import Normalizer

    try:
        return Normalizer.from_dict(saved).to(device)
    except (KeyError, TypeError, ValueError, SpectrogenError) as exc:
        raise CheckpointError(f"its saved normaliser is malformed ({exc})", path) from None


def _representation(data: dict, path: Path):
    """Returns the saved Representation, or None when the data were not made from audio."""
    saved = data.get("representation")
    if saved is None:
        return None
    from spectrogen.spectral.representation import Representation

    try:
        return Representation.from_dict(saved)
    except (KeyError, TypeError, ValueError, SpectrogenError) as exc:
        raise CheckpointError(f"its saved representation is malformed ({exc})", path) from None


def _device(name: str | torch.device) -> torch.device:
    """Returns the torch device `name` asks for (`auto`: CUDA when there is one)."""
    from spectrogen.training.device import resolve_device

    if isinstance(name, torch.device):
        return name
    try:
        return resolve_device(name)
    except ConfigError as exc:
        raise UsageError(str(exc).replace("training.device", "--device")) from None
