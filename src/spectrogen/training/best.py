"""Which checkpoint is `best_model.tar`: one criterion per run, stated in the checkpoint and the log.

By preference: the lowest `evaluation.best_metric` computed during training (`metric`), the lowest
of the method's `best_statistic` (`statistic`, e.g. the autoencoder's ``val_loss``), else the
latest checkpoint (`latest`): GAN losses say little about sample quality, so none is claimed best.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional


class BestTracker:
    """Decides when the current state becomes `best_model.tar`."""

    def __init__(self, criterion: str, key: str = ""):
        self.criterion = criterion  # metric | statistic | latest
        self.key = key
        self.value: Optional[float] = None
        self.epoch: Optional[int] = None
        self.due = False

    @classmethod
    def choose(cls, *, metric: Optional[str], statistic: Optional[str]) -> "BestTracker":
        """Returns the tracker of the first available criterion (metric, then statistic, then latest)."""
        if metric:
            return cls("metric", metric)
        if statistic:
            return cls("statistic", statistic)
        return cls("latest")

    def describe(self) -> str:
        if self.criterion == "latest":
            return "best_model.tar is the latest checkpoint (no quality metric is computed during training)"
        source = "evaluation metric" if self.criterion == "metric" else "epoch statistic"
        return f"best_model.tar is the checkpoint with the lowest {source} {self.key}"

    def offer(self, epoch: int, values: Mapping[str, Any], *, from_metrics: bool) -> bool:
        """Takes an epoch's statistics (or metrics); returns True (and marks `due`) when they are the new best."""
        if self.criterion == "latest" or from_metrics != (self.criterion == "metric"):
            return False
        value = values.get(self.key)
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        if self.value is None or value < self.value:
            self.value, self.epoch, self.due = float(value), epoch, True
            return True
        return False

    def checkpoint_written(self, epoch: int) -> None:
        """Notes a rolling checkpoint: under the `latest` criterion it is the best one."""
        if self.criterion == "latest":
            self.epoch, self.due = epoch, True

    def state_dict(self) -> dict[str, Any]:
        return {"criterion": self.criterion, "key": self.key, "value": self.value, "epoch": self.epoch}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state.get("criterion") == self.criterion and state.get("key", "") == self.key:
            self.value = state.get("value")
            self.epoch = state.get("epoch")
