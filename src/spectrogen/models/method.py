"""The contract between the one training loop and each model family (network / method / trainer).

A *method* owns its networks, optimizers and loss, and knows how to make one optimisation step and
how to sample. The trainer (`spectrogen.training.trainer`) owns everything else: epochs, data,
statistics, checkpoints, plots, health monitoring, resume.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Optional

import torch
from torch import nn

from spectrogen.config.schema import ExperimentConfig
from spectrogen.data.info import Batch, DataInfo


class TrainingMethod(ABC):
    """Base of every model family. Subclasses register themselves in `spectrogen.models.MODELS`."""

    #: the registry name, also stored in checkpoints
    name: str = ""

    def __init__(self, config: ExperimentConfig, info: DataInfo, device: torch.device):
        self.config = config
        self.info = info
        self.device = device
        self.networks: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.schedulers: dict[str, Any] = {}
        #: DistributedDataParallel wrappers of the trained networks, set by the trainer under torchrun
        self.replicas: dict[str, nn.Module] = {}

    # --- training -------------------------------------------------------------------------------
    @abstractmethod
    def train_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Returns the step's statistics as 0-d tensors on the device (no host sync in the step).

        Keys are column names of the iteration statistics, e.g. ``loss_g``, ``loss_d``, ``d_real``,
        ``d_fake``, ``grad_norm_g``, ``grad_norm_d`` for GANs, ``loss`` for the others.
        """

    def end_epoch(self, epoch: int, statistics: dict[str, float]) -> None:
        """Called after each epoch with its mean statistics (learning-rate schedules step here)."""
        for scheduler in self.schedulers.values():
            scheduler.step()

    def learning_rates(self) -> dict[str, float]:
        """Returns the current learning rate of each optimizer, as ``lr_<name>``."""
        return {f"lr_{name}": opt.param_groups[0]["lr"] for name, opt in self.optimizers.items()}

    def scale_learning_rates(self, factor: float) -> None:
        """Multiplies every learning rate by `factor` (the NaN policy halves them)."""
        for opt in self.optimizers.values():
            for group in opt.param_groups:
                group["lr"] *= factor

    # --- sampling -------------------------------------------------------------------------------
    @abstractmethod
    def sample(self, n: int, *, generator: Optional[torch.Generator] = None,
               labels: Optional[torch.Tensor] = None, **options: Any) -> torch.Tensor:
        """Returns `n` new examples, (n, C, H, W), in the data's normalised range.

        Uses the EMA weights when the method keeps them. `labels` picks classes for conditional
        models (None: equal numbers per class); `generator` makes it reproducible.
        """

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Returns the model's reconstruction of `x` (autoencoders only)."""
        raise NotImplementedError(f"{self.name} does not reconstruct its input")

    # --- persistence ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Returns everything needed to continue training: networks, optimizers, schedulers."""
        return {
            "networks": {k: v.state_dict() for k, v in self.networks.items()},
            "optimizers": {k: v.state_dict() for k, v in self.optimizers.items()},
            "schedulers": {k: v.state_dict() for k, v in self.schedulers.items()},
        }

    def load_state_dict(self, state: dict[str, Any], *, networks_only: bool = False) -> None:
        for key, net in self.networks.items():
            if key in state["networks"]:
                net.load_state_dict(state["networks"][key])
        if networks_only:
            return
        for key, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][key])
        for key, sched in self.schedulers.items():
            if key in state.get("schedulers", {}):
                sched.load_state_dict(state["schedulers"][key])

    #: networks needed to sample; `load_generator` restores only these
    sampling_networks: tuple[str, ...] = ()

    def parameter_counts(self) -> dict[str, int]:
        """Returns the number of trainable parameters of each network."""
        return {k: sum(p.numel() for p in v.parameters() if p.requires_grad) for k, v in self.networks.items()}

    def train(self, mode: bool = True) -> None:
        for net in self.networks.values():
            net.train(mode)

    # --- optional hooks the trainer uses (defaults suit a method that ignores them) ---------------
    #: set by the trainer before the first step: a `spectrogen.training.device.TrainingContext`
    #: (device, precision, gradient scalers); None when the method is used outside the trainer
    context: Any = None

    #: True when `sample(labels=...)` honours labels: the trainer then fixes classes for its samples
    conditional: bool = False

    #: True when the method wants a held-out split (`data.validation_fraction`) and `validation_step`
    uses_validation: bool = False

    #: an epoch statistic (e.g. ``val_loss``) whose lowest value picks `best_model.tar` when no
    #: evaluation metric is computed; None: best is simply the latest checkpoint
    best_statistic: Optional[str] = None

    def step_network(self, name: str) -> nn.Module:
        """Returns the module a training step's forward pass should call for network `name`.

        Under several processes that is the network's DistributedDataParallel wrapper (its backward
        averages the gradients over the processes); otherwise the network itself. A forward whose
        gradient must not reach the network's own optimizer (the critic inside the generator's loss,
        a gradient penalty's double backward) may call the plain network instead.
        """
        return self.replicas.get(name, self.networks[name])

    def sum_over_processes(self, *tensors: torch.Tensor) -> None:
        """Replaces each tensor by its sum over the training processes, in place (nothing in one process).

        A collective: every process must call it at the same point, e.g. in `end_epoch`.
        """
        processes = getattr(self.context, "processes", None)
        if processes is not None and processes.enabled:
            from spectrogen.training.distributed import sum_in_place

            sum_in_place(list(tensors), processes)

    def autocast(self):
        """Returns a context manager running the forward pass in the configured precision (fp32 on CPU)."""
        if self.context is None:
            from contextlib import nullcontext

            return nullcontext()
        return self.context.autocast()

    def grad_scaler(self, optimizer: str) -> "torch.amp.GradScaler":
        """Returns the gradient scaler of one optimizer: active for fp16 on CUDA, a pass-through otherwise.

        Use it always (``scaler.scale(loss).backward(); scaler.step(opt); scaler.update()``), so the
        same code serves every precision.
        """
        if self.context is None:
            return torch.amp.GradScaler(self.device.type, enabled=False)
        return self.context.grad_scaler(optimizer)

    def validation_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Returns statistics (0-d tensors) of one held-out batch; called under no_grad in eval mode."""
        raise NotImplementedError(f"{self.name} sets uses_validation but has no validation_step")

    def validation_summary(self) -> dict[str, float]:
        """Returns epoch-level figures computed once after the validation batches (e.g. PESQ of a few
        examples' audio); the trainer adds them to the epoch's row as ``val_<key>``."""
        return {}

    def extra_plots(self, plots_dir: Any, history: list[dict[str, float]]) -> None:
        """Draws the family's own figures into `plots_dir` (a Path) from the per-epoch statistics."""


def fused_optimizer(device: torch.device | str) -> dict[str, Any]:
    """Returns the keyword arguments that make torch's Adam/AdamW fused on `device`: {"fused": True} on CUDA.

    Off the GPU the default (per-parameter loop) is kept: it is what the CPU numbers and resume
    tests were made with, and the fused CPU kernel is no faster for these small networks
    (benchmarks/throughput.py measures both).
    """
    return {"fused": True} if torch.device(device).type == "cuda" else {}
