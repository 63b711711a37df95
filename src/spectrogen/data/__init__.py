"""Data: sources (audio, CSV, PNG, NPY, MUSDB18, MNIST, built-ins), windowing, the on-disk data set, prepare.

    summary = prepare("recordings/", "data/engines")           # or "builtin:engines"
    data = SpectrogramDataset.open("data/engines")
    data.features  # (N, F, T) float32, memory-mapped
"""

from spectrogen.data.dataset import SpectrogramDataset
from spectrogen.data.options import PrepareOptions
from spectrogen.data.pipelines import PrepareSummary
from spectrogen.data.prepare import prepare
from spectrogen.data.sources import SOURCES

__all__ = ["SOURCES", "PrepareOptions", "PrepareSummary", "SpectrogramDataset", "prepare"]
