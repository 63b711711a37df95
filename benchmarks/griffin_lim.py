"""Benchmark: the toolkit's batched fast Griffin-Lim against `librosa.griffinlim`, same clips, same framing.

Makes N synthetic 16384-sample clips at 16 kHz (a few decaying tones plus a little noise each),
takes their SpecGAN magnitude spectrogram (n_fft 256, hop 128, periodic Hann, pad_end framing,
Nyquist row dropped -> 128 x 128), and rebuilds audio from it with

- toolkit: `spectrogen.spectral.griffin_lim.griffin_lim`, the whole batch at once (the dropped
  Nyquist row left free);
- librosa: `librosa.griffinlim` clip by clip, `center=False` on the pad_end length (16512
  samples), a zero Nyquist row appended, cropped to 16384 samples;

both with momentum 0.99 and random initial phase, at each requested iteration count. Reports wall
and CPU time per clip (best of the repeats, runs interleaved) and the spectral convergence
||S| - |S^|| / ||S|| of the rebuilt audio (same STFT for both), then the ratios. Run:

    python benchmarks/griffin_lim.py [--clips 32] [--iterations 16 32] [--repeats 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import sys


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=32)
    parser.add_argument("--iterations", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for both (torch, BLAS, FFT)")
    parser.add_argument("--device", default="cpu", help="device of the toolkit's run (cpu or cuda)")
    return parser.parse_args()


ARGS = parse_args()
# thread limits must be in place before numpy and torch start their pools
for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[variable] = str(ARGS.threads)

import time  # noqa: E402

import librosa  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from spectrogen.spectral.convergence import spectral_convergence  # noqa: E402
from spectrogen.spectral.griffin_lim import griffin_lim  # noqa: E402
from spectrogen.spectral.stft import Spectrogram, padded_length, periodic_hann  # noqa: E402

SAMPLE_RATE, N_FFT, HOP, SAMPLES = 16000, 256, 128, 16384


def make_clips(count: int, seed: int = 0) -> torch.Tensor:
    """Returns (count, 16384) clips: 3-6 decaying tones and faint noise each, peak about 1."""
    rng = np.random.default_rng(seed)
    t = np.arange(SAMPLES) / SAMPLE_RATE
    clips = np.zeros((count, SAMPLES))
    for clip in clips:
        for _ in range(rng.integers(3, 7)):
            frequency = rng.uniform(60.0, 7000.0)
            clip += rng.uniform(0.2, 1.0) * np.sin(2 * np.pi * frequency * t + rng.uniform(0, 2 * np.pi))
        clip *= np.exp(-t * rng.uniform(0.0, 4.0))
        clip += 0.01 * rng.standard_normal(SAMPLES)
        clip /= np.abs(clip).max()
    return torch.from_numpy(clips).float()


def timed(run) -> tuple[object, float, float]:
    """Returns the result of `run()`, its wall time and its process CPU time (all threads)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def toolkit(magnitude: torch.Tensor, n_iter: int, device: torch.device) -> torch.Tensor:
    window = periodic_hann(N_FFT).to(device)
    audio = griffin_lim(magnitude.to(device), window, HOP, n_iter=n_iter, nyquist_dropped=True,
                        generator=torch.Generator(device).manual_seed(0))
    if device.type == "cuda":
        torch.cuda.synchronize()
    return audio.cpu()


def reference(magnitude: np.ndarray, n_iter: int) -> torch.Tensor:
    full = np.concatenate([magnitude, np.zeros_like(magnitude[:, :1])], axis=1)  # Nyquist row back
    length = padded_length(magnitude.shape[-1], N_FFT, HOP)
    clips = [librosa.griffinlim(m, n_iter=n_iter, hop_length=HOP, n_fft=N_FFT, window="hann", center=False,
                                length=length, momentum=0.99, init="random", random_state=i)[:SAMPLES]
             for i, m in enumerate(full)]
    return torch.from_numpy(np.stack(clips))


def main() -> None:
    torch.set_num_threads(ARGS.threads)
    device = torch.device(ARGS.device)
    analyse = Spectrogram(N_FFT, HOP, drop_nyquist=True)
    magnitude = analyse(make_clips(ARGS.clips))  # (N, 128, 128)
    as_numpy = magnitude.numpy()
    # warm-up: first calls pay for imports, FFT plans and librosa's lazy loading
    toolkit(magnitude[:2], 2, device)
    reference(as_numpy[:2], 2)

    load = os.getloadavg()[0]
    print(f"{ARGS.clips} clips of {SAMPLES} samples, SpecGAN framing, {ARGS.threads} threads, "
          f"toolkit on {device}; load average {load:.1f} on {os.cpu_count()} CPUs")
    print(f"{'iterations':>10} {'method':>8} {'wall ms/clip':>13} {'cpu ms/clip':>12} "
          f"{'SC mean':>8} {'SC max':>7}")
    for n_iter in ARGS.iterations:
        best = {"toolkit": [np.inf, np.inf], "librosa": [np.inf, np.inf]}
        outputs = {}
        for _ in range(ARGS.repeats):
            for name, run in (("toolkit", lambda: toolkit(magnitude, n_iter, device)),
                              ("librosa", lambda: reference(as_numpy, n_iter))):
                outputs[name], wall, cpu = timed(run)
                best[name] = [min(best[name][0], wall), min(best[name][1], cpu)]
        convergence = {name: spectral_convergence(magnitude, analyse(audio)) for name, audio in outputs.items()}
        for name in ("toolkit", "librosa"):
            wall, cpu = (1000 * value / ARGS.clips for value in best[name])
            sc = convergence[name]
            print(f"{n_iter:>10} {name:>8} {wall:>13.2f} {cpu:>12.2f} {sc.mean():>8.4f} {sc.max():>7.4f}")
        speed_wall = best["librosa"][0] / best["toolkit"][0]
        speed_cpu = best["librosa"][1] / best["toolkit"][1]
        sc_ratio = convergence["toolkit"].mean() / convergence["librosa"].mean()
        print(f"{n_iter:>10} {'ratio':>8}   toolkit is {speed_wall:.1f}x faster per clip (wall), "
              f"{speed_cpu:.1f}x less CPU; SC toolkit / librosa = {sc_ratio:.3f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
