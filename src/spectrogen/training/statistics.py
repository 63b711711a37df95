"""Step statistics kept on the device between logging intervals (stacking 0-d tensors costs no host sync),
their epoch means, and the held-out means."""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Optional

import numpy as np
import torch

from spectrogen.models.method import TrainingMethod
from spectrogen.training.data_loading import TrainingData
from spectrogen.training.distributed import Processes, from_main, sum_on_host


class IntervalBuffer:
    """The step statistics of the current logging interval, still on the device."""

    def __init__(self) -> None:
        self.keys: tuple[str, ...] = ()
        self._rows: list[torch.Tensor] = []

    def accepts(self, stats: Mapping[str, torch.Tensor]) -> bool:
        """Returns False when `stats` has other keys than the buffered steps (flush first, then add)."""
        return not self._rows or tuple(stats) == self.keys

    def add(self, stats: Mapping[str, torch.Tensor]) -> None:
        if not self._rows:
            self.keys = tuple(stats)
        self._rows.append(torch.stack([value.detach().reshape(()).float() for value in stats.values()]))

    def take(self) -> tuple[tuple[str, ...], Optional[torch.Tensor]]:
        """Returns (keys, values (steps, keys) still on the device, None when empty) and empties the buffer."""
        if not self._rows:
            return self.keys, None
        values = torch.stack(self._rows)  # (n, K)
        self._rows = []
        return self.keys, values

    def fetch(self) -> tuple[tuple[str, ...], np.ndarray]:
        """Returns (keys, values (steps, keys) float64) and empties the buffer: one host copy."""
        keys, values = self.take()
        if values is None:
            return keys, np.zeros((0, len(keys)))
        return keys, values.cpu().numpy().astype(np.float64)


class EpochAccumulator:
    """Sums of the finite step statistics of one epoch, on the host; survives a mid-epoch resume."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.steps = 0
        self.nonfinite_steps = 0

    def add(self, keys: Iterable[str], values: np.ndarray) -> None:
        """Adds `values` (steps, keys); a non-finite value is left out of its key's mean and counted."""
        keys = list(keys)
        finite = np.isfinite(values)
        self.steps += values.shape[0]
        self.nonfinite_steps += int((~finite.all(axis=1)).sum())
        for column, key in enumerate(keys):
            good = values[finite[:, column], column]
            self.sums[key] = self.sums.get(key, 0.0) + float(good.sum())
            self.counts[key] = self.counts.get(key, 0) + int(good.size)

    def means(self) -> dict[str, float]:
        """Returns the mean of each statistic over its finite steps (NaN when it had none)."""
        return {key: self.sums[key] / self.counts[key] if self.counts[key] else math.nan for key in self.sums}

    def state_dict(self) -> dict[str, Any]:
        return {"sums": dict(self.sums), "counts": dict(self.counts), "steps": self.steps,
                "nonfinite_steps": self.nonfinite_steps}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.sums = {k: float(v) for k, v in state.get("sums", {}).items()}
        self.counts = {k: int(v) for k, v in state.get("counts", {}).items()}
        self.steps = int(state.get("steps", 0))
        self.nonfinite_steps = int(state.get("nonfinite_steps", 0))


@torch.no_grad()
def validation_figures(method: TrainingMethod, data: TrainingData, processes: Processes,
                       device: torch.device) -> dict[str, float]:
    """Returns the mean of each validation statistic over the held-out split as ``val_<key>``, equal on all ranks."""
    method.train(False)
    buffer = IntervalBuffer()
    weights = []
    for batch in data.validation_batches():
        buffer.add(method.validation_step(batch))
        weights.append(batch.x.shape[0])
    method.train(True)
    keys, values = buffer.fetch()  # (batches, K)
    keys = from_main(keys, processes)  # rank 0 always has the first batch; the others may have none
    totals = np.zeros(len(keys) + 1)  # weighted sums, then the weight
    if weights:
        totals[:-1] = np.asarray(weights, dtype=float) @ values
        totals[-1] = sum(weights)
    totals = sum_on_host(totals, processes, device)
    return {f"val_{key}": float(total / totals[-1]) for key, total in zip(keys, totals[:-1])}
