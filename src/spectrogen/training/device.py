"""The training device and what runs on it: precision (autocast), gradient scalers, channels-last, compile.
Mixed precision and channels-last are CUDA-only: CPU autocast is slower for these convolution stacks."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from spectrogen.config.schema import TrainingConfig
from spectrogen.errors import ConfigError, UsageError
from spectrogen.training.distributed import SINGLE, Processes

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(name: str) -> torch.device:
    """Returns the torch device that `training.device` names; `auto` picks CUDA when there is one."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"training.device={name!r}, but this machine has no usable CUDA GPU: "
                              f"use --device cpu (or auto)")
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"training.device={name!r}: this machine has {torch.cuda.device_count()} "
                              f"GPU(s), numbered from 0")
        return device
    if name == "mps":
        if not torch.backends.mps.is_available():
            raise ConfigError("training.device='mps', but MPS is not available here: use --device cpu")
        return torch.device("mps")
    return torch.device(name)


def device_for_flag(name: str, flag: str = "--device") -> torch.device:
    """Returns the device a command's `flag` names; one this machine lacks is a UsageError naming the flag."""
    try:
        return resolve_device(name)
    except ConfigError as exc:
        raise UsageError(str(exc).replace("training.device", flag)) from None


def resolve_precision(requested: str, device: torch.device) -> str:
    """Returns the precision really used: fp32 off CUDA; `auto` is bf16 where supported, else fp16."""
    if device.type != "cuda":
        return "fp32"
    if requested == "auto":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return requested


@dataclass
class TrainingContext:
    """What a method needs from the trainer to run a step: device, autocast and gradient scalers."""

    device: torch.device
    precision: str = "fp32"  # resolved: fp32, bf16 or fp16
    channels_last: bool = False
    scalers: dict[str, torch.amp.GradScaler] = field(default_factory=dict)
    processes: Processes = SINGLE  # this process among the training processes (torchrun)

    @classmethod
    def from_config(cls, training: TrainingConfig, device: torch.device,
                    processes: Processes = SINGLE) -> "TrainingContext":
        """Returns the context of `training` on `device` (channels-last only where it helps: CUDA)."""
        return cls(device=device, precision=resolve_precision(training.precision, device),
                   channels_last=training.channels_last and device.type == "cuda", processes=processes)

    def autocast(self):
        """Returns the autocast context of the configured precision (a no-op in fp32)."""
        if self.precision == "fp32":
            return nullcontext()
        return torch.autocast(self.device.type, dtype=_DTYPES[self.precision])

    def grad_scaler(self, optimizer: str) -> torch.amp.GradScaler:
        """Returns the scaler of `optimizer`: loss scaling for fp16, a pass-through otherwise."""
        if optimizer not in self.scalers:
            self.scalers[optimizer] = torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16")
        return self.scalers[optimizer]

    def prepare_input(self, x: torch.Tensor) -> torch.Tensor:
        """Returns `x` (B, C, H, W) in the memory format the networks were given."""
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def state_dict(self) -> dict[str, Any]:
        return {name: scaler.state_dict() for name, scaler in self.scalers.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, scaler_state in state.items():
            if scaler_state:  # a disabled scaler saves an empty dict
                self.grad_scaler(name).load_state_dict(scaler_state)


def prepare_networks(networks: dict[str, nn.Module], context: TrainingContext, compile_networks: bool) -> None:
    """Applies channels-last and `torch.compile` to each network in place (state_dict keys unchanged)."""
    for net in networks.values():
        if context.channels_last:
            net.to(memory_format=torch.channels_last)
        if compile_networks:
            # Module.compile keeps the module and its parameter names: checkpoints and references stay valid
            net.compile()
