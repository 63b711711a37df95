"""Step statistics kept on the device between logging intervals, and their epoch means.

A step returns 0-d tensors; stacking them costs no host synchronisation. The host fetches a whole
logging interval at once (one copy per `output.log_every` steps), which is also when non-finite
values are noticed.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Optional

import numpy as np
import torch


class IntervalBuffer:
    """The step statistics of the current logging interval, still on the device."""

    def __init__(self) -> None:
        self.keys: tuple[str, ...] = ()
        self._rows: list[torch.Tensor] = []

    def __len__(self) -> int:
        return len(self._rows)

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


def last_value(history: list[dict[str, Any]], key: str) -> Optional[float]:
    """Returns the most recent non-empty value of `key` in `history` (None when there is none)."""
    for row in reversed(history):
        if row.get(key) is not None:
            return row[key]
    return None
