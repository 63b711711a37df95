"""Step time of the demo's SpecGAN on every core, on one thread, and on the count ThreadChooser picks,
with the machine idle and with one core kept busy by another process (a Python busy loop).

All six figures are measured in one run, alternating, so machine noise touches them alike; the
ratios against "all cores" are printed. The busy case is what a laptop running other work sees.

  python benchmarks/cpu_threads.py             # 30 steps per figure
  python benchmarks/cpu_threads.py --steps 60
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import torch

from spectrogen.demo import demo_config
from spectrogen.models.registry import build_method
from spectrogen.training.device import ThreadChooser, usable_cores
from spectrogen.data.info import Batch, DataInfo


def step_ms(method, batch: Batch, steps: int, threads: int) -> float:
    """Returns the median milliseconds of `steps` training steps on `threads` intra-op threads."""
    torch.set_num_threads(threads)
    for _ in range(3):
        method.train_step(batch)
    times = []
    for _ in range(steps):
        began = time.perf_counter()
        method.train_step(batch)
        times.append(1000.0 * (time.perf_counter() - began))
    return sorted(times)[len(times) // 2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    cores = len(usable_cores())
    config = demo_config("/tmp/unused", "/tmp/unused_run", model="specgan", minutes=1, device="cpu")
    method = build_method(config, DataInfo((1, 64, 64), ["a", "b", "c", "d"]), "cpu")
    batch = Batch(torch.randn(config.training.batch_size, 1, 64, 64))
    print(f"demo SpecGAN (64x64, widths 16, batch {config.training.batch_size}), {cores} cores, "
          f"median of {args.steps} steps")
    for load in ("idle", "one core busy"):
        busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if load != "idle" else None
        try:
            time.sleep(0.5)
            chooser = ThreadChooser()
            chooser.start()
            chosen = chooser.threads
            figures = {"all cores": step_ms(method, batch, args.steps, cores),
                       "1 thread": step_ms(method, batch, args.steps, 1),
                       f"chosen ({chosen})": step_ms(method, batch, args.steps, chosen)}
        finally:
            if busy is not None:
                busy.kill()
                busy.wait()
        base = figures["all cores"]
        print(f"{load:>14}: " + "   ".join(f"{name} {ms:.1f} ms ({ms / base:.2f}x)" for name, ms in figures.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
