"""Peak resident memory of `prepare` and of one training epoch at 1x and 4x the data, and the data wait.

Writes synthetic engine recordings (16 kHz mono .wav) of `--seconds` and 4 x `--seconds` of audio,
then runs each measurement in its own process and reads that process's peak resident memory
(VmHWM of /proc/self/status) against its resident memory just before the work (after imports):

- prepare: `spectrogen.data.prepare` with the specgan representation (128 x 128 examples); the
  peak of its largest reading worker process is printed too (getrusage RUSAGE_CHILDREN);
- epoch, streamed: one epoch of a small DCGAN (128 x 128, width 4, batch 64) over the whole data set
  with data.on_device=never (batches read from features.npy with positional reads; should stay
  flat from 1x to 4x);
- epoch, memory-mapped: the same, but the rows taken by indexing the np.memmap (the reading this
  toolkit replaced: every page touched stays mapped, so the file counts as resident);
- epoch, held: data.on_device=always, the normalised data set held in memory (grows by design:
  `auto` holds it only when it takes at most a quarter of the available memory).

Then the share of step time spent waiting for data: a SpecGAN (`--dim`, 128 x 128, batch 16) for
`--steps` steps per epoch, 2 epochs, the second one timed, streamed (workers 0 and 2) and held.
The wait is the time the trainer spends inside the batch iterator (reading, normalising, resizing,
copying to the device), over the whole step loop. On CUDA the host-side wait only starves the GPU
when it exceeds the queued work, so it is an upper bound there.

    python benchmarks/memory.py                   # 1200 s of audio at 1x: 1200 examples, 75 MiB
    python benchmarks/memory.py --seconds 2400 --dim 64 --steps 20
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

MEASURE = r"""
import json, sys, time
def status(key):
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0  # MiB
def report(**figures):
    print("RESULT " + json.dumps(figures))
"""

PREPARE_CHILD = MEASURE + r"""
import resource
from spectrogen.data import prepare
base = status("VmRSS")
started = time.perf_counter()
summary = prepare(sys.argv[1], sys.argv[2], representation="specgan", quiet=True)
# prepare reads in worker processes: the largest one's peak (Linux reports kilobytes)
worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
report(seconds=time.perf_counter() - started, base_mib=base, peak_mib=status("VmHWM"), examples=summary.examples,
       worker_peak_mib=worker)
"""

EPOCH_CHILD = MEASURE + r"""
import numpy as np, torch
from spectrogen.config import build_config
from spectrogen.api import train
from spectrogen.training import data_loading
data, out, mode = sys.argv[1], sys.argv[2], sys.argv[3]
if mode == "mapped":
    # the old way: fancy indexing of one memory map, kept open for the whole run
    def mapped_read(self, indices):
        if not hasattr(self, "mapped"):
            self.mapped = np.load(self.path, mmap_mode="r")
        return np.ascontiguousarray(self.mapped[np.asarray(indices)], dtype=np.float32)
    data_loading.RowReader.read = mapped_read
config = build_config({"data": {"path": data, "on_device": "always" if mode == "held" else "never",
                                "validation_fraction": 0.0},
                       "model": {"name": "dcgan", "image_size": 128, "features_g": 4, "features_d": 4},
                       "training": {"epochs": 1, "batch_size": 64, "device": "cpu"},
                       "output": {"output_dir": out, "report": False, "num_samples": 4, "log_every": 50}})
base = status("VmRSS")
started = time.perf_counter()
train(config, quiet=True)
report(seconds=time.perf_counter() - started, base_mib=base, peak_mib=status("VmHWM"))
"""

WAIT_CHILD = MEASURE + r"""
import csv, torch
from spectrogen.config import build_config
from spectrogen.api import train
from spectrogen.training.data_loading import TrainingData
data, out, on_device, workers, dim, steps, device = sys.argv[1:8]
waits = {}
original = TrainingData.train_batches
def timed(self, epoch, start_step=0):
    batches = original(self, epoch, start_step)
    waits[epoch] = 0.0
    while True:
        began = time.perf_counter()
        try:
            batch = next(batches)
        except StopIteration:
            return
        if batch.x.is_cuda:
            torch.cuda.synchronize()
        waits[epoch] += time.perf_counter() - began
        yield batch
TrainingData.train_batches = timed
config = build_config({"data": {"path": data, "on_device": on_device, "num_workers": int(workers),
                                "validation_fraction": 0.0},
                       "model": {"name": "specgan", "image_size": 128, "features_g": int(dim), "features_d": int(dim)},
                       "training": {"epochs": 2, "batch_size": 16, "device": device, "critic_steps": 5,
                                    "max_steps_per_epoch": int(steps)},
                       "output": {"output_dir": out, "report": False, "num_samples": 2, "log_every": 10,
                                  "plot_every": 100}})
train(config, quiet=True)
with open(out + "/epochs_statistics/epoch_statistics.csv") as handle:
    row = list(csv.DictReader(handle))[-1]
loop = float(row["step_time_ms"]) * int(steps) / 1000.0
report(wait_s=waits[2], loop_s=loop, share=waits[2] / loop, samples_per_s=float(row["samples_per_s"]))
"""


def run_child(code: str, *args: str, threads: int) -> dict:
    """Returns the figures a child process reports (its last RESULT line)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env)
    results = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not results:
        raise RuntimeError(f"child failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return json.loads(results[-1][len("RESULT "):])


def write_recordings(folder: Path, seconds: float, clip_seconds: float = 20.0) -> None:
    """Writes `seconds` of 16 kHz mono engine sounds as .wav clips of `clip_seconds`."""
    import numpy as np
    import soundfile

    from spectrogen.data.sources.builtin import ENGINE_TYPES, synthesize

    folder.mkdir(parents=True)
    rate = 16000
    for k in range(int(round(seconds / clip_seconds))):
        engine = ENGINE_TYPES[k % len(ENGINE_TYPES)]
        audio = synthesize(engine, int(clip_seconds * rate), rate, np.random.default_rng([7, k]))
        soundfile.write(str(folder / f"{engine.name}_{k:05d}.wav"), audio, rate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=1200.0, help="audio at 1x (4x is four times this)")
    parser.add_argument("--dim", type=int, default=32, help="SpecGAN width for the data-wait figure")
    parser.add_argument("--steps", type=int, default=12, help="steps per epoch for the data-wait figure")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the training processes")
    parser.add_argument("--skip-wait", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        sizes = {"1x": args.seconds, "4x": 4 * args.seconds}
        rows = []
        for label, seconds in sizes.items():
            write_recordings(work / f"audio_{label}", seconds)
            prepared = run_child(PREPARE_CHILD, str(work / f"audio_{label}"), str(work / f"data_{label}"),
                                 threads=args.threads)
            size_mib = (work / f"data_{label}" / "features.npy").stat().st_size / 2**20
            rows.append((label, "prepare", prepared, size_mib))
            for mode in ("streamed", "mapped", "held"):
                figures = run_child(EPOCH_CHILD, str(work / f"data_{label}"), str(work / f"run_{label}_{mode}"), mode,
                                    threads=args.threads)
                rows.append((label, f"epoch, {mode}", figures, size_mib))
            print(f"{label}: {prepared['examples']} examples, features.npy {size_mib:.0f} MiB", flush=True)

        print("\npeak resident memory (VmHWM) of each process, MiB; growth = peak - resident before the work")
        print(f"{'data':<5} {'work':<22} {'seconds':>8} {'before':>8} {'peak':>8} {'growth':>8}")
        growth = {}
        for label, work_name, figures, _ in rows:
            grown = figures["peak_mib"] - figures["base_mib"]
            growth[(label, work_name)] = grown
            worker = f"   largest worker {figures['worker_peak_mib']:.0f}" if figures.get("worker_peak_mib") else ""
            print(f"{label:<5} {work_name:<22} {figures['seconds']:>8.1f} {figures['base_mib']:>8.0f} "
                  f"{figures['peak_mib']:>8.0f} {grown:>8.0f}{worker}")
        print("\ngrowth at 4x minus growth at 1x (flat: about 0; the features file grows by "
              f"{rows[4][3] - rows[0][3]:.0f} MiB):")
        for work_name in ("prepare", "epoch, streamed", "epoch, mapped", "epoch, held"):
            print(f"  {work_name:<22} {growth[('4x', work_name)] - growth[('1x', work_name)]:>+8.0f} MiB")

        if args.skip_wait:
            return
        print(f"\ndata wait: specgan dim {args.dim}, 128x128, batch 16, {args.steps} steps, second epoch timed, "
              f"{args.device}, data 4x")
        for on_device, workers in (("never", 0), ("never", 2), ("always", 0)):
            figures = run_child(WAIT_CHILD, str(work / "data_4x"), str(work / f"wait_{on_device}_{workers}"),
                                on_device, str(workers), str(args.dim), str(args.steps), args.device,
                                threads=args.threads)
            kind = "streamed" if on_device == "never" else "held"
            print(f"  {kind:<8} workers {workers}: wait {figures['wait_s']:.2f} s of {figures['loop_s']:.2f} s "
                  f"= {100 * figures['share']:.1f}%  ({figures['samples_per_s']:.1f} samples/s)", flush=True)


if __name__ == "__main__":
    main()
