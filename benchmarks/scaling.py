"""Training throughput at 1, 2, ... processes under torchrun (DDP): samples/s, speed-up, efficiency.

For each process count N the real command runs, as a user would start it:

    torchrun --standalone --nproc-per-node N -m spectrogen train --model M --data D ...

on a synthetic data set (random --size x --size examples in the on-disk format), with the same per-process
batch (training.batch_size is per process, so the global batch is N x batch: weak scaling). The
figure is `samples_per_s` of epoch_statistics.csv (all processes' examples over the time spent in
steps), the median over the epochs after the first (which warms up). On the CPU each process gets
`--threads` threads (1 by default: with N processes on N cores).

    python benchmarks/scaling.py                                 # CPU: 1 and 2 processes, gloo
    python benchmarks/scaling.py --nproc 1 2 4 8 --device cuda --model specgan --width 64 --batch 64
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from random_dataset import write_dataset  # benchmarks/random_dataset.py


def run(nproc: int, args: argparse.Namespace, data: Path, out: Path) -> dict:
    """Returns the figures of one torchrun launch with `nproc` processes."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
               "-m", "spectrogen", "train", "--model", args.model, "--data", str(data), "--output-dir", str(out),
               "--epochs", str(args.epochs), "--batch-size", str(args.batch), "--device", args.device,
               "--image-size", str(args.size), "--features-g", str(args.width), "--features-d", str(args.width),
               "--set", f"training.max_steps_per_epoch={args.steps}", "--set", "output.report=false",
               "--set", "output.plot_every=1000", "--set", "output.num_samples=4", "--set", "output.log_every=10",
               "--set", "data.validation_fraction=0", "--set", f"data.on_device={args.on_device}", "--quiet"]
    if args.model == "diffusion":
        command += ["--set", f"model.diffusion.base_channels={args.width}", "--set", "model.diffusion.sampling_steps=4"]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(f"torchrun with {nproc} processes failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    with open(out / "epochs_statistics" / "epoch_statistics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    rates = [float(row["samples_per_s"]) for row in rows[1:]] or [float(rows[0]["samples_per_s"])]
    return {"samples_per_s": statistics.median(rates), "epochs": rates, "wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nproc", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--device", default="cpu", help="cpu (gloo) or cuda (NCCL, one GPU per process)")
    parser.add_argument("--model", default="dcgan", choices=["dcgan", "specgan", "cgan", "diffusion", "autoencoder"])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--width", type=int, default=16, help="features_g/d (U-Net base channels)")
    parser.add_argument("--batch", type=int, default=16, help="per process")
    parser.add_argument("--steps", type=int, default=20, help="steps per epoch")
    parser.add_argument("--epochs", type=int, default=4, help="the first is warm-up")
    parser.add_argument("--threads", type=int, default=1, help="threads per process (CPU)")
    parser.add_argument("--on-device", default="auto", choices=["auto", "always", "never"])
    args = parser.parse_args()
    if args.model == "cgan":
        parser.error("cgan needs a labelled data set; measure dcgan or specgan, whose networks it shares")

    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        data = work / "data"
        largest = max(args.nproc)
        write_dataset(data, count=args.batch * largest * args.steps, size=args.size)
        print(f"{args.model}, {args.size}x{args.size}, width {args.width}, batch {args.batch} per process, "
              f"{args.steps} steps x {args.epochs} epochs (first not counted), device {args.device}, "
              f"{args.threads} thread(s) per process; {os.cpu_count()} CPU cores", flush=True)
        results = {}
        for nproc in args.nproc:
            results[nproc] = run(nproc, args, data, work / f"run_{nproc}")
            figures = results[nproc]
            base = results[min(results)]
            speedup = figures["samples_per_s"] / base["samples_per_s"] * min(results)
            print(f"  {nproc} process(es): {figures['samples_per_s']:8.1f} samples/s  "
                  f"speed-up x{speedup:.2f}  efficiency {100 * speedup / nproc:.0f}%  "
                  f"(epochs: {', '.join(f'{r:.0f}' for r in figures['epochs'])}; whole launch {figures['wall_s']:.0f} s)",
                  flush=True)


if __name__ == "__main__":
    main()
