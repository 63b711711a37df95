"""Tiny tone data and a tiny TrainingMethod, so that the training loop is tested on its own. Tests import them from
here, not from conftest: when pytest is given several folders, `conftest` may name another folder's."""

import math
import os
import signal
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from torch import nn

from spectrogen.config import build_config
from spectrogen.config.loader import apply_overrides
from spectrogen.data.info import Batch
from spectrogen.models.method import TrainingMethod
from spectrogen.training.data_loading import TrainingData, open_dataset
from spectrogen.training.distributed import Processes

PITCHES = (1, 3, 5)


def tone_features(count: int, shape: tuple[int, int] = (8, 8), seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Returns (features (N, F, T), labels (N,)): log-magnitude-like tones, one bright row per example."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(PITCHES), size=count)
    features = -5.0 + 0.2 * rng.standard_normal((count, *shape))
    rows = (np.asarray(PITCHES)[labels] * shape[0]) // 8
    features[np.arange(count), rows, :] += 6.0
    return features.astype(np.float32), labels.astype(np.int64)


def tiny_config(data: Path, out: Path, overrides: dict[str, Any] | None = None):
    """Returns a validated configuration for the tiny method on 8x8 examples, on the CPU."""
    raw = {"name": "tiny",
           "data": {"path": str(data), "normalization": "minmax"},
           "model": {"name": "autoencoder", "image_size": 8, "image_width": 8},
           "training": {"epochs": 3, "batch_size": 8, "learning_rate": 1e-2, "device": "cpu", "seed": 0,
                        "lr_schedule": "constant"},
           "output": {"output_dir": str(out), "plot_every": 100, "log_every": 2, "num_samples": 8,
                      "report": False}}
    return build_config(apply_overrides(raw, (overrides or {}).items()))


def training_data(folder: Path, tmp_path: Path, processes: Processes = Processes(), validation: bool = False,
                  **overrides) -> TrainingData:
    """Returns the batches `train` would draw from the data set `folder` with `tiny_config` and `overrides`."""
    config = tiny_config(folder, tmp_path / "run", overrides)
    return TrainingData(open_dataset(config.data.path), config, torch.device("cpu"), validation=validation,
                        processes=processes)


class TinyMethod(TrainingMethod):
    """A 2-layer MLP generator matching the batch's per-pixel mean and spread, beside a linear critic. `faults`
    injects trouble at given calls of train_step (counted over the process, so a restored state does not meet it
    again): "nan_loss" (the weights follow), "nan_statistic" (only reported), "sigint" (Ctrl-C to this process)."""

    name = "tiny"

    def __init__(self, config, info, device, faults: Optional[dict[int, str]] = None):
        super().__init__(config, info, device)
        self.shape = info.shape
        size = math.prod(info.shape)
        generator = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, size), nn.Tanh()).to(device)
        critic = nn.Linear(size, 1).to(device)
        self.networks = {"generator": generator, "critic": critic}
        lr = config.training.learning_rate
        self.optimizers = {"generator": torch.optim.Adam(generator.parameters(), lr=lr),
                           "critic": torch.optim.Adam(critic.parameters(), lr=lr)}
        self.sampling_networks = ("generator",)
        self.faults = faults or {}
        self.process_calls = 0

    def train_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        self.process_calls += 1
        fault = self.faults.get(self.process_calls)
        real = batch.x.flatten(1)  # (B, C*H*W)
        fake = self.networks["generator"](torch.randn(real.shape[0], 4, device=self.device))
        critic = self.networks["critic"]
        loss_d = (critic(real) - 1).pow(2).mean() + critic(fake.detach()).pow(2).mean()
        self.optimizers["critic"].zero_grad()
        loss_d.backward()
        self.optimizers["critic"].step()
        loss_g = (fake.mean(0) - real.mean(0)).pow(2).mean() + (fake.std(0) - real.std(0)).pow(2).mean()
        if fault == "nan_loss":
            loss_g = loss_g * math.nan
        self.optimizers["generator"].zero_grad()
        loss_g.backward()
        grads = [p.grad.norm() for p in self.networks["generator"].parameters()]
        self.optimizers["generator"].step()
        statistics = {"loss_g": loss_g.detach(), "loss_d": loss_d.detach(), "grad_norm_g": torch.stack(grads).norm()}
        if fault == "nan_statistic":
            statistics["loss_d"] = torch.tensor(math.nan)
        if fault == "sigint":
            os.kill(os.getpid(), signal.SIGINT)
        return statistics

    def validation_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        fake = self.networks["generator"](torch.zeros(1, 4, device=self.device))  # (1, C*H*W)
        return {"loss": (batch.x.flatten(1) - fake).pow(2).mean()}

    @torch.no_grad()
    def sample(self, n, *, generator=None, labels=None, **options):
        z = torch.randn(n, 4, generator=generator, device=self.device)
        return self.networks["generator"](z).reshape(n, *self.shape)
