"""Level of a data set's examples at a smaller model size: the feature mapping against resizing log features.

    python benchmarks/mapping_level.py DATA [--size 64] [--examples 256]

DATA is a prepared audio data set. Each example is taken to the model's size by `FeatureMapping`
(its power resized once, as training does) and, as the baseline, by resizing its log features (what
training did before the mapping existed). Prints, per way, the difference in dB of each frequency
band's level from the band's true level (the power averaged over the cells each model cell covers),
and each way's round trip to the model's size and back.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F

from spectrogen.data import SpectrogramDataset
from spectrogen.spectral.compression import compress, decompress
from spectrogen.spectral.mapping import FeatureMapping
from spectrogen.spectral.representation import Representation
from spectrogen.spectral.resize import resize


def level_db(features: torch.Tensor, log: str) -> np.ndarray:
    """Returns each example's level per frequency row in dB, (N, F), from log features (N, F, T)."""
    power = decompress(features, log).double().pow(2).mean(dim=-1)
    return 10 * np.log10(power.clamp_min(1e-20).numpy())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--examples", type=int, default=256)
    args = parser.parse_args()
    dataset = SpectrogramDataset.open(args.data)
    rep: Representation = dataset.representation
    size = (args.size, args.size)
    x = torch.from_numpy(np.array(dataset.features[:args.examples]))  # (N, F, T) log features
    # the reference: each model cell's true power, the mean over the data cells it covers
    power = decompress(x, rep.log).pow(2)[:, None]
    reference = compress(F.adaptive_avg_pool2d(power, size)[:, 0].sqrt(), rep.log)
    mapping = FeatureMapping.of_dataset(dataset, "none", size)
    ways = {"feature mapping (power)": (mapping.to_model(x)[:, 0], lambda f: mapping.to_features(f[:, None])),
            "log features resized": (resize(x, size), lambda f: resize(f, tuple(dataset.shape)))}
    print(f"{args.data}: {len(x)} examples of {tuple(dataset.shape)} -> {size}")
    for name, (small, back) in ways.items():
        off = level_db(small, rep.log) - level_db(reference, rep.log)
        trip = level_db(back(small), rep.log) - level_db(x, rep.log)
        print(f"  {name:26s} level off {off.mean():+.2f} dB (mean |.| {np.abs(off).mean():.2f}, 95th percentile "
              f"{np.percentile(np.abs(off), 95):.2f}); round trip {trip.mean():+.2f} dB")


if __name__ == "__main__":
    main()
