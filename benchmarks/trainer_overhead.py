"""Seconds per generator step: the trainer against a bare loop of the same model and loss, same run.

The bare loop calls `method.train_step` on batches already on the device and nothing else. The
trainer adds data batches, statistics fetched once per logging interval, NaN checks, the progress
bar, CSV rows and resource figures (`step_time_ms` of epoch_statistics.csv), plus per-epoch work:
fixed samples, the collapse signal, a checkpoint, plots (whole-run wall time).

  python benchmarks/trainer_overhead.py                        # issue 3: specgan dim 64, 128x128, batch 16
  python benchmarks/trainer_overhead.py --dim 16 --size 64     # a quick CPU run
  python benchmarks/trainer_overhead.py --channels-last --compile --precision bf16   # CUDA options
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from spectrogen.config import build_config
from spectrogen.models.registry import build_method
from spectrogen.spectral.moments import MomentAccumulator
from spectrogen.spectral.representation import Representation
from spectrogen.training import api
from spectrogen.training.api import seed_everything, train
from spectrogen.training.csv_log import CsvLog
from spectrogen.training.method import Batch, DataInfo


def write_dataset(folder: Path, count: int, size: int) -> None:
    """Writes a random data set of `count` (size x size) examples in the on-disk format."""
    folder.mkdir(parents=True)
    features = np.random.default_rng(0).normal(-4.0, 1.0, size=(count, size, size)).astype(np.float32)
    moments = MomentAccumulator()
    moments.update(features)
    metadata = {"format": "spectrogen-dataset", "format_version": 1,
                "representation": Representation(kind="image", image_size=(size, size)).to_dict(),
                "shape": [count, size, size], "class_names": [], "moments": moments.result().to_dict()}
    (folder / "dataset.json").write_text(json.dumps(metadata))
    np.save(folder / "features.npy", features)
    np.save(folder / "labels.npy", np.zeros(count, dtype=np.int64))


def synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bare_loop(config, device: torch.device, calls: int, rounds: int) -> float:
    """Returns seconds per train_step call of the method alone on fixed device batches.

    Runs `rounds` rounds of `calls` steps, like the trainer's epochs, and skips the first as warm-up.
    """
    seed_everything(config.training.seed)
    method = build_method(config, DataInfo((1, config.model.image_size, config.model.image_size)), device)
    batch_size, size = config.training.batch_size, config.model.image_size
    batches = [Batch(torch.rand(batch_size, 1, size, size, device=device) * 2 - 1) for _ in range(4)]
    seconds = []
    for _ in range(rounds):
        synchronise(device)
        began = time.perf_counter()
        for i in range(calls):
            statistics = method.train_step(batches[i % 4])
        float(statistics["loss_d"])  # wait for the last step
        synchronise(device)
        seconds.append((time.perf_counter() - began) / calls)
    return float(np.mean(seconds[1:] if rounds > 1 else seconds))


def trainer_run(config, calls: int) -> tuple[float, float, float]:
    """Returns (seconds per step in the trainer's loop, of which inside train_step, wall seconds of train()).

    The method's train_step is timed from inside the same run, so the trainer's share of the loop
    is measured directly, whatever else the machine is doing.
    """
    durations: list[float] = []

    def timed_build(config, info, device="cpu"):
        method = build_method(config, info, device)
        step = method.train_step

        def train_step(batch):
            began = time.perf_counter()
            statistics = step(batch)
            durations.append(time.perf_counter() - began)
            return statistics

        method.train_step = train_step
        return method

    api.build_method = timed_build
    try:
        began = time.perf_counter()
        out = train(config, quiet=True)
        wall = time.perf_counter() - began
    finally:
        api.build_method = build_method
    rows = CsvLog(out / "epochs_statistics" / "epoch_statistics.csv").rows()
    # epoch 1 warms up (allocator, compilation); the later epochs are measured
    first = 1 if len(rows) > 1 else 0
    loop = float(np.mean([row["step_time_ms"] for row in rows[first:]])) / 1000.0
    inside = float(np.mean(durations[first * calls:]))
    return loop, inside, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--critic-steps", type=int, default=5)
    parser.add_argument("--generator-steps", type=int, default=4, help="measured generator steps per epoch")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    calls = args.generator_steps * args.critic_steps
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data"
        write_dataset(data, count=calls * args.batch, size=args.size)
        raw = {"data": {"path": str(data), "normalization": "per_frequency"},
               "model": {"name": "specgan", "image_size": args.size, "features_g": args.dim, "features_d": args.dim},
               "training": {"epochs": args.epochs, "batch_size": args.batch, "critic_steps": args.critic_steps,
                            "device": args.device, "precision": args.precision,
                            "channels_last": args.channels_last, "compile": args.compile},
               "output": {"output_dir": str(Path(folder) / "run"), "log_every": 10, "num_samples": 16,
                          "plot_every": 1000, "report": False}}
        config = build_config(raw)
        device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                              ("cpu" if args.device == "auto" else args.device))
        bare = bare_loop(config, device, calls, rounds=args.epochs)
        in_trainer, inside, wall = trainer_run(config, calls)

    per_run = args.epochs * calls
    print(f"specgan dim {args.dim}, {args.size}x{args.size}, batch {args.batch}, critic steps {args.critic_steps}, "
          f"{device}, {args.precision}, channels_last={args.channels_last}, compile={args.compile}, "
          f"threads {torch.get_num_threads()}")
    print(f"bare loop:           {bare * args.critic_steps:8.3f} s per generator step")
    print(f"trainer step loop:   {in_trainer * args.critic_steps:8.3f} s per generator step  "
          f"ratio {in_trainer / bare:.3f}")
    print(f"  of which train_step {inside * args.critic_steps:8.3f} s: the trainer's own share of its loop is "
          f"{100 * (in_trainer - inside) / in_trainer:.2f}%")
    print(f"trainer whole run:   {wall / per_run * args.critic_steps:8.3f} s per generator step  "
          f"ratio {wall / per_run / bare:.3f}  (start-up, samples, checkpoints and plots included)")


if __name__ == "__main__":
    main()
