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
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from spectrogen.config import build_config
from spectrogen.models.registry import build_method
from spectrogen import api
from spectrogen.api import seed_everything, train
from spectrogen.training.csv_log import CsvLog
from spectrogen.data.info import Batch, DataInfo

from random_dataset import write_dataset  # benchmarks/random_dataset.py


def synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class BareRounds:
    """An epoch callback that runs `calls` steps of a separate copy of the method, bare, on device batches.

    Interleaving a bare round after every trainer epoch puts both measurements under the same
    machine load, so their ratio means something even on a busy machine.
    """

    def __init__(self, config, device: torch.device, calls: int):
        seed_everything(config.training.seed)
        size = config.model.image_size
        self.method = build_method(config, DataInfo((1, size, size)), device)
        self.batches = [Batch(torch.rand(config.training.batch_size, 1, size, size, device=device) * 2 - 1)
                        for _ in range(4)]
        self.device, self.calls = device, calls
        self.seconds: list[float] = []

    def __call__(self, trainer, epoch: int) -> None:
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            synchronise(self.device)
            began = time.perf_counter()
            for i in range(self.calls):
                statistics = self.method.train_step(self.batches[i % 4])
            float(statistics["loss_d"])  # wait for the last step
            synchronise(self.device)
        self.seconds.append((time.perf_counter() - began) / self.calls)


def trainer_run(config, calls: int, bare: BareRounds) -> tuple[np.ndarray, float, float, float]:
    """Returns (per epoch: step-loop seconds / bare seconds; step-loop seconds and train_step seconds
    per call, both over the measured epochs; wall seconds of train() without the bare rounds).

    The method's train_step is also timed from inside the trainer, so the trainer's own share of
    its loop is measured directly.
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
        out = train(config, quiet=True, callbacks=[bare])
        wall = time.perf_counter() - began
    finally:
        api.build_method = build_method
    rows = CsvLog(out / "epochs_statistics" / "epoch_statistics.csv").rows()
    loop = np.array([row["step_time_ms"] / 1000.0 for row in rows])
    # epoch 1 warms up (allocator, compilation); the later epochs are measured
    first = 1 if len(rows) > 1 else 0
    ratios = loop[first:] / np.array(bare.seconds[first:])
    inside = float(np.mean(durations[first * calls:]))
    return ratios, float(loop[first:].mean()), inside, wall - sum(bare.seconds) * calls


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
        bare = BareRounds(config, device, calls)
        ratios, loop_step, inside, wall = trainer_run(config, calls, bare)

    per_run = args.epochs * calls
    bare_step = float(np.mean(bare.seconds[1:] if len(bare.seconds) > 1 else bare.seconds))
    print(f"specgan dim {args.dim}, {args.size}x{args.size}, batch {args.batch}, critic steps {args.critic_steps}, "
          f"{device}, {args.precision}, channels_last={args.channels_last}, compile={args.compile}, "
          f"threads {torch.get_num_threads()}")
    print(f"bare loop:           {bare_step * args.critic_steps:8.3f} s per generator step")
    print(f"trainer step loop:   ratio to the bare round after it, per epoch: "
          f"{', '.join(f'{r:.3f}' for r in ratios)} (median {np.median(ratios):.3f})")
    print(f"  train_step inside the trainer {inside * args.critic_steps:.3f} s per generator step; the trainer's "
          f"own share of its step loop is {100 * max(0.0, 1 - inside / loop_step):.2f}%")
    print(f"trainer whole run:   {wall / per_run * args.critic_steps:8.3f} s per generator step  "
          f"ratio {wall / per_run / bare_step:.3f}  (start-up, samples, checkpoints and plots included)")


if __name__ == "__main__":
    main()
