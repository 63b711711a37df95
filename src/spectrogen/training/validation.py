"""One pass over the held-out split: each statistic's example-weighted mean, shared out between processes."""

from __future__ import annotations

import numpy as np
import torch

from spectrogen.training.data_loading import TrainingData
from spectrogen.training.distributed import Processes, from_main, sum_on_host
from spectrogen.models.method import TrainingMethod
from spectrogen.training.statistics import IntervalBuffer


@torch.no_grad()
def validation_figures(method: TrainingMethod, data: TrainingData, processes: Processes,
                       device: torch.device) -> dict[str, float]:
    """Returns the mean of each validation statistic over the held-out split, as ``val_<key>``.

    Each process validates its share of the batches (`TrainingData.validation_batches`); the
    example-weighted sums are added up over the processes, so every rank gets the same figures. The
    method's `validation_summary` (figures only the whole split can give, e.g. PESQ/STOI of
    resynthesised audio) is added on rank 0 alone, whose row the epoch keeps.
    """
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
    result = {f"val_{key}": float(total / totals[-1]) for key, total in zip(keys, totals[:-1])}
    if processes.is_main:
        result.update({f"val_{key}": value for key, value in method.validation_summary().items()})
    return result
