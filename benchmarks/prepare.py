"""Benchmark: `spectrogen prepare` against a plain librosa loop on the same synthetic recordings.

Writes N and 4N audio files (engine-like sounds, mixed sample rates 16/22.05/44.1/48 kHz, a third
stereo, 1-3 s, wav/flac) to a temporary folder, then measures in separate processes:

- prepare: `spectrogen.data.prepare` with the specgan representation (decode with soundfile,
  resample with soxr, cut into 16384-sample windows, batched torch STFT, streamed to disk);
- librosa: for each file `librosa.load(sr=16000)`, cut into the same windows as prepare's (a
  tail of at least half a window zero-padded), `librosa.stft(n_fft=256, hop=128)`, log, per-file
  normalisation, 128-frame examples kept in a list, stacked and saved at the end: the same
  examples as prepare makes (before normalisation), from the same files;
- decode floor: only reading (soundfile) and resampling (soxr HQ, librosa's default too) each
  file, which both of the above must do: the time left above this floor is what each spends on
  everything else (framing, STFT, statistics, writing).

Prints wall time and CPU time of the work (imports excluded; prepare's worker processes
included), the peak resident memory (plus the private memory of worker processes) and its growth over the
memory just before the work; then the ratios. Run:

    python benchmarks/prepare.py [--files N] [--repeats R] [--workers W]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RATES = (16000, 22050, 44100, 48000)

# Measured inside each child: wall and CPU time (all threads) of the work alone, the resident
# memory just before it, and the highest resident memory during it (sampled every 2 ms, since
# the import of librosa or torch can leave a higher peak than the work itself).
MEASURE = """
import json, os, resource, threading, time
PAGE = os.sysconf("SC_PAGE_SIZE")

def _statm(pid):
    with open(f"/proc/{pid}/statm") as handle:
        return int(handle.read().split()[1]) * PAGE

def _private(pid):  # memory of a forked worker not shared with this process (shared pages count once)
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            return sum(int(line.split()[1]) * 1024 for line in handle if line.startswith("Private_"))
    except OSError:  # a worker that just ended
        return 0

def _children():
    pids = []
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/children") as handle:
                pids += handle.read().split()
        except OSError:
            pass
    return pids

def resident(children=0):  # of this process, plus `children` (the private memory of its workers)
    return _statm("self") + children

def cpu_seconds():  # user + system, of this process and its finished (joined) worker processes
    own, ended = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + ended.ru_utime + ended.ru_stime

class Meter:
    def __enter__(self):
        self.base = self.peak = resident()
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        self.cpu, self.wall = cpu_seconds(), time.perf_counter()
        return self

    def _sample(self):
        children, tick = 0, 0
        while self.running:
            if tick % 10 == 0:  # reading smaps is slower than statm: every 20 ms
                children = sum(_private(pid) for pid in _children())
            tick += 1
            self.peak = max(self.peak, resident(children))
            time.sleep(0.002)

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = cpu_seconds() - self.cpu
        self.running = False
        self.thread.join()
        self.peak = max(self.peak, resident())

    def report(self, examples):
        print(json.dumps({"seconds": self.wall, "cpu": self.cpu, "base_mib": self.base / 2**20,
                          "peak_mib": self.peak / 2**20, "examples": examples}))
"""

PREPARE_CHILD = MEASURE + """
import sys
from spectrogen.data import prepare
with Meter() as meter:
    workers = None if sys.argv[3] == "default" else int(sys.argv[3])
    summary = prepare(sys.argv[1], sys.argv[2], quiet=True, workers=workers)
meter.report(summary.examples)
"""

LIBROSA_CHILD = MEASURE + """
import sys
from pathlib import Path
import numpy as np, librosa
librosa.load  # noqa: B018  (resolve librosa's lazy modules before measuring)
# librosa.util.utils compiles numba kernels when first imported (by the first stft): about a second
import librosa.core.audio, librosa.core.spectrum, librosa.util.utils  # noqa: F401
with Meter() as meter:
    examples = []
    for path in sorted(Path(sys.argv[1]).rglob("*.*")):
        y, _ = librosa.load(path, sr=16000, mono=True)
        # prepare's windows: 16384 samples side by side, a tail of at least half a window padded,
        # each framed as SpecGAN's pad_end STFT (128 zeros after the clip's end give 128 frames)
        keep = len(y) // 16384 + (len(y) % 16384 >= 8192)
        clip = np.zeros(keep * 16384 + 128, dtype=np.float32)
        clip[:min(len(y), keep * 16384)] = y[:keep * 16384]
        spec = np.log(np.abs(librosa.stft(clip, n_fft=256, hop_length=128, center=False)) + 1e-6)[:-1]
        spec = (spec - spec.mean()) / (spec.std() + 1e-8)
        examples += [spec[:, k:k + 128] for k in range(0, spec.shape[1] - 127, 128)]
    np.save(Path(sys.argv[2]) / "features.npy", np.stack(examples).astype(np.float32))
meter.report(len(examples))
"""

DECODE_CHILD = MEASURE + """
import sys
from pathlib import Path
import numpy as np, soundfile, soxr
with Meter() as meter:
    count = 0
    for path in sorted(Path(sys.argv[1]).rglob("*.*")):
        audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
        mono = audio @ np.full(audio.shape[1], 1 / audio.shape[1], np.float32)
        count += len(soxr.resample(mono, rate, 16000, quality="HQ") if rate != 16000 else mono) > 0
meter.report(count)
"""


def write_recordings(folder: Path, count: int, seed: int = 0) -> float:
    """Writes `count` engine recordings to `folder`; returns their total duration in seconds."""
    import numpy as np
    import soundfile

    from spectrogen.data.sources.builtin import ENGINE_TYPES, synthesize

    rng = np.random.default_rng(seed)
    total = 0.0
    for k in range(count):
        rate = RATES[k % len(RATES)]
        seconds = rng.uniform(1.0, 3.0)
        engine = ENGINE_TYPES[k % len(ENGINE_TYPES)]
        audio = synthesize(engine, int(seconds * rate), rate, np.random.default_rng([seed, k]))
        if k % 3 == 0:
            audio = np.stack([audio, 0.8 * audio], axis=1)  # stereo
        suffix = ".flac" if k % 5 == 0 else ".wav"
        soundfile.write(str(_mkdir(folder / engine.name) / f"{k:05d}{suffix}"), audio, rate)
        total += seconds
    return total


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def measure(child: str, source: Path, work: Path, workers: str = "default") -> dict:
    """Returns the child's measurements (run in a fresh process, output folder removed after)."""
    out = work / f"out-{time.monotonic_ns()}"
    if "librosa" in child:
        out.mkdir()
    result = subprocess.run([sys.executable, "-c", child, str(source), str(out), workers], capture_output=True,
                            text=True, check=False, env={**os.environ, "CI": "1"})
    if result.returncode:
        raise SystemExit(f"benchmark child failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def best_of(child: str, source: Path, work: Path, repeats: int, workers: str = "default") -> dict:
    """Returns the run with the lowest wall time among `repeats` (the least disturbed by other load)."""
    runs = [measure(child, source, work, workers) for _ in range(repeats)]
    return min(runs, key=lambda run: run["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=200, help="N: files in the small set (the large has 4N)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each measurement; the fastest counts")
    parser.add_argument("--workers", default="default",
                        help="prepare's decoding processes (default: one per core; 0 or 1: in-process)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="spectrogen-bench-") as tmp:
        work = Path(tmp)
        rows = []
        for count in (args.files, 4 * args.files):
            source = _mkdir(work / f"src{count}")
            audio_seconds = write_recordings(source, count)
            ours = best_of(PREPARE_CHILD, source, work, args.repeats, args.workers)
            theirs = best_of(LIBROSA_CHILD, source, work, args.repeats)
            floor = best_of(DECODE_CHILD, source, work, args.repeats)
            rows.append((count, audio_seconds, ours, theirs, floor))

    print(f"{'files':>6} {'audio':>7} | {'wall s':>15} {'ratio':>5} | {'CPU s':>15} {'ratio':>5} | "
          f"{'peak MiB (growth)':>27}")
    print(f"{'':>6} {'':>7} | {'prepare librosa':>15} {'':>5} | {'prepare librosa':>15} {'':>5} | "
          f"{'prepare':>13} {'librosa':>13}")
    for count, audio_seconds, ours, theirs, _ in rows:
        print(f"{count:>6} {audio_seconds:>6.0f}s | {ours['seconds']:>7.2f} {theirs['seconds']:>7.2f} "
              f"{theirs['seconds'] / ours['seconds']:>4.1f}x | {ours['cpu']:>7.2f} {theirs['cpu']:>7.2f} "
              f"{theirs['cpu'] / ours['cpu']:>4.1f}x | {ours['peak_mib']:>5.0f} ({growth(ours):>4.0f}) "
              f"{theirs['peak_mib']:>6.0f} ({growth(theirs):>4.0f})")
    (small, _, ours_n, theirs_n, _), (large, _, ours_4n, theirs_4n, _) = rows
    print(f"\nprepare vs the librosa loop, wall time: {theirs_n['seconds'] / ours_n['seconds']:.1f}x faster at "
          f"{small} files, {theirs_4n['seconds'] / ours_4n['seconds']:.1f}x at {large} (target >= 3x); "
          f"CPU time: {theirs_n['cpu'] / ours_n['cpu']:.1f}x, {theirs_4n['cpu'] / ours_4n['cpu']:.1f}x")
    print(f"memory growth during the work, {small} -> {large} files: prepare {growth(ours_n):.0f} -> "
          f"{growth(ours_4n):.0f} MiB, librosa loop {growth(theirs_n):.0f} -> {growth(theirs_4n):.0f} MiB")
    print(f"examples made: prepare {ours_n['examples']} / {ours_4n['examples']}, librosa loop "
          f"{theirs_n['examples']} / {theirs_4n['examples']}")
    for count, _, ours, theirs, floor in rows:
        print(f"decode+resample floor at {count} files: {floor['seconds']:.2f} s wall, {floor['cpu']:.2f} s CPU; "
              f"above it, prepare spends {ours['cpu'] - floor['cpu']:.2f} s CPU, the librosa loop "
              f"{theirs['cpu'] - floor['cpu']:.2f} s ({(theirs['cpu'] - floor['cpu']) / max(ours['cpu'] - floor['cpu'], 1e-3):.1f}x)")
    print(f"prepare's decoding processes: {args.workers}")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs "
          "(wall times suffer from other load; CPU times much less)")


def growth(run: dict) -> float:
    """Returns how much resident memory rose during the work, MiB."""
    return run["peak_mib"] - run["base_mib"]


if __name__ == "__main__":
    main()
