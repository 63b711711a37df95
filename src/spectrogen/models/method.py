"""The contract between the one training loop and each model family (a method owns its networks, optimizers and
loss and makes one step or samples; the trainer owns epochs, data and checkpoints), and the weights' average."""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from contextlib import contextmanager, nullcontext
from typing import Any, Iterator, Optional

import torch
from torch import nn

from spectrogen.config.schema import ExperimentConfig
from spectrogen.data.info import Batch, DataInfo
from spectrogen.errors import ConfigError
from spectrogen.spectral.mapping import FeatureMapping


class TrainingMethod(ABC):
    """Base of every model family. Subclasses register themselves in `spectrogen.models.MODELS`."""

    name: str = ""  # the registry name, also stored in checkpoints
    sampling_networks: tuple[str, ...] = ()  # the networks needed to sample; `load_generator` restores only these
    # set by the trainer before the first step (None outside a run): its TrainingContext (device, precision,
    # gradient scalers) and the data set's features <-> model inputs mapping
    context: Any = None
    mapping: Optional[FeatureMapping] = None
    conditional: bool = False  # `sample(labels=...)` honours labels: the trainer fixes classes for its samples
    uses_validation: bool = False  # wants a held-out split (`data.validation_fraction`) and has `validation_step`
    # the epoch statistic (e.g. ``val_loss``) whose lowest value picks `best_model.tar` when no evaluation
    # metric is computed; None: best is the latest checkpoint
    best_statistic: Optional[str] = None

    def __init__(self, config: ExperimentConfig, info: DataInfo, device: torch.device):
        self.config = config
        self.info = info
        self.device = device
        self.networks: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.schedulers: dict[str, Any] = {}
        self.replicas: dict[str, nn.Module] = {}  # DistributedDataParallel wrappers, set by the trainer

    @abstractmethod
    def train_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Returns the step's statistics (columns such as ``loss_g``) as 0-d tensors on the device, no host sync."""

    def end_epoch(self, epoch: int, statistics: dict[str, float]) -> None:
        """Called after each epoch with its mean statistics; learning-rate schedules step here."""
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

    def add_optimizer(self, name: str, optimizer: type[torch.optim.Optimizer], learning_rate: float) -> None:
        """Adds an Adam-like optimizer of network `name` (and its cosine schedule when `training` asks for one)."""
        training = self.config.training
        # fused on CUDA only: the CPU numbers and resume tests were made with the per-parameter loop
        fused = {"fused": True} if torch.device(self.device).type == "cuda" else {}
        self.optimizers[name] = optimizer(self.networks[name].parameters(), lr=learning_rate,
                                          betas=(training.beta1, training.beta2),
                                          weight_decay=training.weight_decay, **fused)
        # "plateau" is the trainer's: it halves the learning rates when the loss stops improving
        if training.lr_schedule == "cosine":
            self.schedulers[name] = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizers[name],
                                                                               T_max=training.epochs)

    def optimizer_step(self, name: str, loss: torch.Tensor, grad_clip: Optional[float]) -> torch.Tensor:
        """Returns the gradient norm (0-d) of network `name` before clipping, after its optimizer's step on `loss`."""
        optimizer = self.optimizers[name]
        scaler = self.grad_scaler(name)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)  # norms and clipping in true units under fp16 loss scaling
        parameters = [p for p in self.networks[name].parameters() if p.grad is not None]
        norm = (torch.nn.utils.clip_grad_norm_(parameters, grad_clip) if grad_clip is not None
                else _total_norm([p.grad for p in parameters]))
        scaler.step(optimizer)
        scaler.update()
        return norm.detach()

    @abstractmethod
    def sample(self, n: int, *, generator: Optional[torch.Generator] = None,
               labels: Optional[torch.Tensor] = None, **options: Any) -> torch.Tensor:
        """Returns `n` new examples (n, C, H, W) in the data's normalised range, from the EMA weights where kept;
        `labels` picks classes for conditional models (None: equal numbers per class)."""

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Returns the model's reconstruction of `x` (autoencoders only)."""
        raise NotImplementedError(f"{self.name} does not reconstruct its input")

    def state_dict(self) -> dict[str, Any]:
        """Returns everything needed to continue training: networks, optimizers, schedulers."""
        return {group: {k: v.state_dict() for k, v in getattr(self, group).items()}
                for group in ("networks", "optimizers", "schedulers")}

    def load_state_dict(self, state: dict[str, Any], *, networks_only: bool = False) -> None:
        saved = state["networks"]
        for key, net in self.networks.items():
            # a sampling-only export holds only the average `<key>_ema`; a run without an average, the live weights
            source = key if key in saved else f"{key}_ema" if f"{key}_ema" in saved else key.removesuffix("_ema")
            if source in saved:
                net.load_state_dict(saved[source])
        if networks_only:
            return
        for key, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][key])
        for key, sched in self.schedulers.items():
            if key in state.get("schedulers", {}):
                sched.load_state_dict(state["schedulers"][key])

    def parameter_counts(self) -> dict[str, int]:
        """Returns the number of trainable parameters of each network."""
        return {k: sum(p.numel() for p in v.parameters() if p.requires_grad) for k, v in self.networks.items()}

    def train(self, mode: bool = True) -> None:
        for net in self.networks.values():
            net.train(mode)

    def step_network(self, name: str) -> nn.Module:
        """Returns the module a step's forward pass calls for network `name`: under several processes its
        DistributedDataParallel wrapper, whose backward averages the gradients (a forward whose gradient must
        not reach the network's own optimizer may call the plain network)."""
        return self.replicas.get(name, self.networks[name])

    def sum_over_processes(self, *tensors: torch.Tensor) -> None:
        """Sums each tensor in place over the processes: a collective every process must call at the same point."""
        processes = getattr(self.context, "processes", None)
        if processes is not None and processes.enabled:
            for tensor in tensors:
                torch.distributed.all_reduce(tensor)

    def autocast(self):
        """Returns a context manager running the forward pass in the configured precision (fp32 on CPU)."""
        return nullcontext() if self.context is None else self.context.autocast()

    def grad_scaler(self, optimizer: str) -> "torch.amp.GradScaler":
        """Returns the gradient scaler of one optimizer: active for fp16 on CUDA, a pass-through otherwise."""
        return (torch.amp.GradScaler(self.device.type, enabled=False) if self.context is None
                else self.context.grad_scaler(optimizer))

    def validation_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Returns statistics (0-d tensors) of one held-out batch; called under no_grad in eval mode."""
        raise NotImplementedError(f"{self.name} sets uses_validation but has no validation_step")


def class_count(config: ExperimentConfig, info: DataInfo) -> int:
    """Returns how many classes a model conditions on: model.num_classes, else the data set's."""
    count = config.model.num_classes or info.num_classes
    if info.num_classes > count:
        raise ConfigError(f"model.num_classes={count} but the data set has {info.num_classes} classes: "
                          f"raise model.num_classes or leave it unset")
    return count


@contextmanager
def eval_mode(network: nn.Module) -> Iterator[nn.Module]:
    """Puts `network` in eval mode for the block, then back in the mode it was in."""
    was_training = network.training
    network.eval()
    try:
        yield network
    finally:
        network.train(was_training)


# one fused norm over all gradients where torch has it (2.6 on), else one norm per tensor
_total_norm = getattr(torch.nn.utils, "get_total_norm", lambda tensors: torch.linalg.vector_norm(
    torch.stack([torch.linalg.vector_norm(t) for t in tensors])))


def make_average(network: nn.Module) -> nn.Module:
    """Returns a frozen copy of `network` (no gradients, eval mode) to hold its moving average."""
    average = copy.deepcopy(network)
    average.requires_grad_(False)
    return average.eval()


def warmed_up_decay(decay: float, updates: int) -> float:
    """Returns the decay of the `updates`-th update (0-based), min(decay, (1 + n) / (10 + n)): without the ramp,
    decay 0.999 still weighs the initial weights by a half after 700 updates."""
    return min(decay, (1.0 + updates) / (10.0 + updates))


@torch.no_grad()
def update_average(average: nn.Module, network: nn.Module, decay: float) -> None:
    """Moves `average` towards `network` (p_avg <- decay p_avg + (1 - decay) p); buffers are copied, not averaged."""
    averaged = list(average.parameters())
    current = list(network.parameters())
    if len(averaged) != len(current):
        raise ValueError("the average and the network have different parameters")
    for kept, live in zip(averaged, current):
        kept.lerp_(live.detach(), 1.0 - decay)
    for kept, live in zip(average.buffers(), network.buffers()):
        kept.copy_(live)
