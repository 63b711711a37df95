"""Training time goes to training: the share of a time-limited run spent in optimisation steps, per preset.

    python benchmarks/time_budget.py [--minutes 3] [--presets default test digits autoencoder] [--work DIR]

Each preset trains on built-in data (`builtin:engines` as 128x128 SpecGAN spectrograms, or
`builtin:digits`, or the engines as autoencoder mels) with `training.max_minutes=M`, through the
Python API in this process. Printed per preset: the wall time of `train()` from start to return
(data, model, the run's writes, the final checkpoint and report), the seconds spent in optimisation
steps, their share of the wall time and of M, and the share that samples, plots and checkpoints
took during training (`training/budget.py` holds it near 5 %), with the estimate printed after
the first steps against the real time per step.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path

from spectrogen.config import load_config
from spectrogen.data import prepare
from spectrogen.api import train

DATA = {"default": ("builtin:engines", "specgan"), "test": ("builtin:engines", "specgan"),
        "digits": ("builtin:digits", None), "autoencoder": ("builtin:engines", "autoencoder")}


def data_for(work: Path, preset: str) -> Path:
    source, representation = DATA[preset]
    folder = work / f"data_{source.split(':')[1]}_{representation or 'image'}"
    if not (folder / "dataset.json").is_file():
        prepare(source, folder, representation=representation, quiet=True)
    return folder


def measure(work: Path, preset: str, minutes: float) -> dict:
    """Returns the figures of one time-limited run of `preset`."""
    config = load_config(preset, [("data.path", str(data_for(work, preset))),
                                  ("output.output_dir", str(work / f"run_{preset}")),
                                  ("training.max_minutes", minutes), ("training.epochs", 100000),
                                  ("training.device", "cpu")])
    trained = []  # each finished epoch's seconds in optimisation steps

    def count(trainer, epoch):
        trained.append(trainer.train_seconds)
        seen["trainer"] = trainer

    seen = {}
    printed = StringIO()
    started = time.perf_counter()
    with redirect_stdout(printed):
        train(config, overwrite=True, quiet=True, callbacks=[count])
    wall = time.perf_counter() - started
    trainer = seen["trainer"]
    partial = trainer.train_seconds if trainer.state.step_in_epoch else 0.0  # the epoch the limit cut short
    seconds = sum(trained) + partial
    estimate = re.search(r"at ([0-9.]+) s a step", printed.getvalue())
    steps = trainer.state.global_step
    budget = getattr(trainer, "budget", None)
    return {"preset": preset, "wall": wall, "trained": seconds,
            "writes": budget.share_spent() if budget is not None else float("nan"), "steps": steps,
            "estimated_step": float(estimate.group(1)) if estimate else float("nan"),
            "real_step": seconds / max(steps, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--presets", nargs="+", default=list(DATA), choices=list(DATA))
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="time_budget_"))
    print("| preset | wall s | trained s | trained / wall | trained / M | writes during training | "
          "steps | estimated s/step | real s/step |")
    print("|---|---|---|---|---|---|---|---|---|")
    for preset in args.presets:
        r = measure(work, preset, args.minutes)
        print(f"| {preset} | {r['wall']:.0f} | {r['trained']:.0f} | {r['trained'] / r['wall']:.2f} | "
              f"{r['trained'] / (60 * args.minutes):.2f} | {r['writes']:.1%} | {r['steps']} | "
              f"{r['estimated_step']:.3f} | {r['real_step']:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
