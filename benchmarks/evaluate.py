"""Time of `spectrogen evaluate` for 1,000 generated 128x128 spectrograms on the CPU, all metrics.

The issue's target: under a minute on 2 cores, excluding the one-off training of the feature network
(timed separately). Each metric's time is also printed as a multiple of a baseline measured in the
same run: one pass of the feature network over the 1,000 samples.

    python benchmarks/evaluate.py [--n 1000] [--size 128] [--real 2000] [--threads 2]

Synthetic data (harmonic stacks of four classes over noise) stand in for a prepared data set; the
"generated" samples are fresh draws of the same distribution, so every metric has real work to do.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def harmonic_features(n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Returns (log-magnitude-like features (n, size, size) float32, labels (n,)) of four harmonic classes."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    f = np.arange(size)[:, None]
    t = np.arange(size)[None, :]
    x = np.empty((n, size, size), dtype=np.float32)
    for i, label in enumerate(labels):
        fundamental = size / 32 * (3 + 2 * label + rng.uniform(-0.7, 0.7))
        onset, length = rng.uniform(0, size / 2), rng.uniform(size / 3, size)
        envelope = np.exp(-0.5 * ((t - onset - length / 2) / (length / 3)) ** 2)
        image = sum((0.8 / h) * np.exp(-0.5 * ((f - h * fundamental) / (size / 50)) ** 2) for h in range(1, 6))
        x[i] = 4.0 * (image * envelope + 0.08 * rng.standard_normal((size, size))) - 6.0
    return x, labels


def write_data(folder: Path, features: np.ndarray, labels: np.ndarray) -> Path:
    from spectrogen.data.writer import write_examples

    folder.mkdir(parents=True)
    write_examples(folder, features, labels, ["c0", "c1", "c2", "c3"], source="synthetic")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000, help="generated samples (default 1000)")
    parser.add_argument("--size", type=int, default=128, help="spectrogram side (default 128)")
    parser.add_argument("--real", type=int, default=2000, help="examples in the data set (default 2000)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from spectrogen.metrics.checkpoint_evaluation import evaluate_sample_file
    from spectrogen.metrics.classifier import save_classifier
    from spectrogen.metrics.classifier_training import ClassifierOptions, train_classifier_on_dataset
    from spectrogen.metrics.inputs import dataset_normalizer, normalised_examples, open_data

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        features, labels = harmonic_features(args.real, args.size, seed=0)
        data = write_data(root / "data", features, labels)
        dataset = open_data(data)
        fresh, _ = harmonic_features(args.n, args.size, seed=1)
        samples = Path(tmp) / "samples.npy"
        normalizer = dataset_normalizer(dataset)
        np.save(samples, normalizer(torch.from_numpy(fresh)).numpy()[:, None])  # as a generator would write them

        started = time.perf_counter()
        classifier = train_classifier_on_dataset(data, options=ClassifierOptions())
        training_seconds = time.perf_counter() - started
        save_classifier(classifier, root / "classifier.pt")

        # baseline: one pass of the feature network over the samples
        x = normalised_examples(dataset, np.arange(min(args.n, len(dataset))), normalizer)
        started = time.perf_counter()
        classifier.extract(x)
        baseline = time.perf_counter() - started

        started = time.perf_counter()
        result = evaluate_sample_file(samples, data, classifier=root / "classifier.pt", metrics="all",
                                      log=lambda line: None)
        total = time.perf_counter() - started

    load = os.getloadavg()[0]
    print(f"evaluate: {args.n} samples of {args.size}x{args.size} against {args.real} real examples, "
          f"{args.threads} torch threads, load average {load:.1f} on {os.cpu_count()} CPUs")
    print(f"feature network training (one-off, {classifier.training['examples']} examples, "
          f"{classifier.training['options']['epochs']} epochs): {training_seconds:.1f} s, held-out accuracy "
          f"{classifier.heldout['accuracy']:.3f}")
    print(f"baseline (one feature pass over {len(x)} spectrograms): {baseline:.2f} s")
    print(f"{'part':<16}{'seconds':>9}{'x baseline':>12}")
    for name, seconds in result.timings.items():
        print(f"{name:<16}{seconds:>9.2f}{seconds / baseline:>12.2f}")
    accounted = sum(result.timings.values())
    print(f"{'loading, other':<16}{total - accounted:>9.2f}{(total - accounted) / baseline:>12.2f}")
    print(f"{'total':<16}{total:>9.2f}{total / baseline:>12.2f}   target < 60 s: {'met' if total < 60 else 'missed'}")
    print("figures: " + ", ".join(f"{k} {v:.4g}" for k, v in result.metrics.items()))


if __name__ == "__main__":
    main()
