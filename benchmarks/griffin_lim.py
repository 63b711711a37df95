"""Benchmark: phase reconstruction, the toolkit's PGHI + fast Griffin-Lim against `librosa.griffinlim`.

Real-shaped clips (tests/spectral/real_shaped.py: engines, held harmonic notes, speech-like
syllables, noise bursts; RMS about -20 dBFS) are analysed with a representation preset (specgan:
16 kHz, n_fft 256, hop 128, pad_end framing, Nyquist row dropped; mel and autoencoder: log-mel)
and rebuilt from the magnitude with

- ``pghi``: the toolkit's default: phase-gradient heap integration, then fast Griffin-Lim (momentum
  0.99), the whole batch at once (`Representation.to_audio`, init="pghi");
- ``random``: the same fast Griffin-Lim from a random phase (init="random");
- ``librosa``: `librosa.griffinlim` clip by clip (momentum 0.99, random phase, its own default), on
  the same linear magnitude (`center=False` on the pad_end length, the Nyquist row put back as
  zeros; for mel presets the toolkit's inverse mel first, so only the phase step differs).

Per method and iteration count: wall ms per clip (best of the repeats, interleaved), spectral
convergence ||S| - |S^|| / ||S|| of the rebuilt audio against the target (in the representation's
own domain, same analysis for all), and SI-SDR against the source clip (dB; phase-sensitive, so
Griffin-Lim's sign and phase ambiguities keep it low). Then "equal time": how many iterations the
toolkit fits into librosa's time and what it reaches there. Run:

    python benchmarks/griffin_lim.py [--preset specgan mel autoencoder] [--per-kind 4]
        [--iterations 8 16 32 64] [--repeats 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", nargs="+", default=["specgan", "mel", "autoencoder"])
    parser.add_argument("--per-kind", type=int, default=4, help="clips of each of the four kinds")
    parser.add_argument("--iterations", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for all (torch, BLAS, FFT)")
    parser.add_argument("--mel-frames", type=int, default=128,
                        help="frames of the mel presets' clips (their own 512 / 256 make a long run)")
    return parser.parse_args()


ARGS = parse_args()
# thread limits must be in place before numpy and torch start their pools
for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[variable] = str(ARGS.threads)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "spectral"))

import time  # noqa: E402

import librosa  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import real_shaped  # noqa: E402
from spectrogen.metrics.reconstruction import si_sdr  # noqa: E402
from spectrogen.spectral.compression import decompress  # noqa: E402
from spectrogen.spectral.representation import Representation  # noqa: E402
from spectrogen.spectral.stft import padded_length, spectral_convergence  # noqa: E402

METHODS = ("pghi", "random", "librosa")


def toolkit(rep: Representation, features: torch.Tensor, n_iter: int, init: str) -> np.ndarray:
    return rep.to_audio(features, n_iter=n_iter, init=init, generator=torch.Generator().manual_seed(0)).numpy()


def with_librosa(rep: Representation, magnitude: np.ndarray, n_iter: int) -> np.ndarray:
    if rep.drop_nyquist:
        magnitude = np.concatenate([magnitude, np.zeros_like(magnitude[:, :1])], axis=1)
    length = padded_length(magnitude.shape[-1], rep.n_fft, rep.hop_length)
    clips = [librosa.griffinlim(m, n_iter=n_iter, hop_length=rep.hop_length, n_fft=rep.n_fft,
                                win_length=rep.win_length, window="hann", center=False, length=length,
                                momentum=0.99, init="random", random_state=i)[:rep.num_samples]
             for i, m in enumerate(magnitude)]
    return np.stack(clips).astype(np.float32)


def scores(rep: Representation, features: torch.Tensor, source: np.ndarray, audio: np.ndarray) -> tuple[float, float]:
    """Returns (mean spectral convergence against the target, mean SI-SDR in dB against the source)."""
    again = rep.features(torch.from_numpy(audio))
    sc = spectral_convergence(decompress(features, rep.log), decompress(again, rep.log))
    return float(sc.mean()), float(np.mean(si_sdr(source, audio)))


def run_preset(name: str) -> None:
    rep = Representation.preset(name, **({} if name == "specgan" else {"frames": ARGS.mel_frames}))
    names, source = real_shaped.clips(rep.num_samples, rep.sample_rate, per_kind=ARGS.per_kind)
    features = rep.features(torch.from_numpy(source))
    magnitude = rep.magnitude(features).numpy()  # (N, K, T) linear, what librosa gets
    count = len(source)
    toolkit(rep, features[:2], 2, "pghi")  # warm-up: compiled code, FFT plans, lazy imports
    with_librosa(rep, magnitude[:2], 2)

    runs = {"pghi": lambda k: toolkit(rep, features, k, "pghi"),
            "random": lambda k: toolkit(rep, features, k, "random"),
            "librosa": lambda k: with_librosa(rep, magnitude, k)}
    print(f"\n{name}: {count} clips ({ARGS.per_kind} each of {', '.join(real_shaped.KINDS)}) of "
          f"{rep.num_samples} samples at {rep.sample_rate} Hz, n_fft {rep.n_fft}, hop {rep.hop_length}; "
          f"{ARGS.threads} threads; load average {os.getloadavg()[0]:.1f}")
    print(f"{'iters':>5} {'method':>8} {'ms/clip':>8} {'SC':>7} {'SI-SDR dB':>9}")
    table = {}
    for n_iter in ARGS.iterations:
        best = dict.fromkeys(METHODS, np.inf)
        for _ in range(ARGS.repeats):
            for method in METHODS:
                began = time.perf_counter()
                audio = runs[method](n_iter)
                best[method] = min(best[method], time.perf_counter() - began)
                table[method, n_iter] = (1000 * best[method] / count, *scores(rep, features, source, audio))
        for method in METHODS:
            ms, sc, sdr = table[method, n_iter]
            print(f"{n_iter:>5} {method:>8} {ms:>8.2f} {sc:>7.4f} {sdr:>9.2f}")
        ms, sc, _ = table["pghi", n_iter]
        print(f"{n_iter:>5} {'ratio':>8}  pghi is {table['librosa', n_iter][0] / ms:.1f}x faster than librosa, "
              f"SC pghi / librosa = {sc / table['librosa', n_iter][1]:.3f}")
    # equal wall time: the most iterations of the toolkit that fit into librosa's time at each count
    print("equal time (toolkit iterations that fit in librosa's time):")
    for n_iter in ARGS.iterations:
        budget = table["librosa", n_iter][0]
        fits = [k for k in ARGS.iterations if table["pghi", k][0] <= budget]
        if fits:
            k = max(fits)
            print(f"  librosa {n_iter:>3} iters ({budget:.1f} ms/clip, SC {table['librosa', n_iter][1]:.4f}, "
                  f"SI-SDR {table['librosa', n_iter][2]:.2f}) vs pghi {k} iters ({table['pghi', k][0]:.1f} ms, "
                  f"SC {table['pghi', k][1]:.4f}, SI-SDR {table['pghi', k][2]:.2f})")
    # the target of the issue: librosa's quality at 32 iterations, at what share of its time?
    reference_sc = table["librosa", 32][1] if ("librosa", 32) in table else None
    if reference_sc is not None:
        equal = [k for k in ARGS.iterations if table["pghi", k][1] <= reference_sc]
        if equal:
            k = min(equal)
            print(f"librosa's SC at 32 iterations ({reference_sc:.4f}) is matched by pghi at {k} iterations in "
                  f"{table['pghi', k][0] / table['librosa', 32][0]:.2f} of librosa's time")
    sys.stdout.flush()


def main() -> None:
    torch.set_num_threads(ARGS.threads)
    for name in ARGS.preset:
        run_preset(name)


if __name__ == "__main__":
    main()
