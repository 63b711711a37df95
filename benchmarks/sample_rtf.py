"""Benchmark: real-time factor of `spectrogen sample` with .wav output, against librosa Griffin-Lim per sample.

Real-time factor (RTF) = seconds of audio produced / seconds of wall time (higher is faster).

Setup: a SpecGAN generator at 128 x 128, dim 64, untrained (its output shape and cost are what
matter), saved as a checkpoint with the `specgan` representation (16 kHz, n_fft 256, hop 128,
Nyquist dropped) and a per-frequency normaliser. Both paths start from the same generated
spectrograms and run the same number of fast Griffin-Lim iterations (momentum 0.99, random
initial phase):

- spectrogen: `load_generator` + `write_samples(formats npy,wav)`: load, generate in batches,
  denormalise, batched torch Griffin-Lim, set the level, write 16-bit .wav files;
- baseline: the same load and generation, then for each sample `librosa.griffinlim` on its
  magnitude (denormalised, exp, a zero Nyquist row added), the same level setting, and the .wav.

Also prints the inversion stage alone and the spectral convergence of both results against the
target magnitudes (same quality expected). CPU only; torch uses `--threads` threads, librosa's
FFTs one. On a machine whose cores are busy with other work, --threads 1 gives steadier numbers:
OpenMP threads that wait for a descheduled partner inflate both clocks. Run:

    python benchmarks/sample_rtf.py [--n 64] [--iters 32] [--batch-size 64] [--threads 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def make_checkpoint(folder: Path, dim: int) -> Path:
    """Returns the path of an untrained SpecGAN 128 x 128 checkpoint with audio metadata."""
    from spectrogen.config import build_config, config_to_dict
    from spectrogen.models.registry import build_method
    from spectrogen.spectral.moments import Moments
    from spectrogen.spectral.normalization import Normalizer
    from spectrogen.spectral.representation import Representation
    from spectrogen.training.checkpoint import build_checkpoint, save_checkpoint
    from spectrogen.data.info import DataInfo

    torch.manual_seed(0)
    config = build_config({"model": {"name": "specgan", "image_size": 128, "features_g": dim, "features_d": dim}})
    method = build_method(config, DataInfo((1, 128, 128)), "cpu")
    # moments of a typical log(|X| + 1e-6) spectrogram: louder at low frequencies
    moments = Moments(mean=np.linspace(-2.0, -7.0, 128), std=np.full(128, 1.8), min=-13.8, max=3.0, count=1)
    data = {"shape": [1, 128, 128], "class_names": [], "normalizer": Normalizer("per_frequency", moments).to_dict(),
            "representation": Representation.preset("specgan").to_dict()}
    checkpoint = build_checkpoint(model="specgan", config=config_to_dict(config), data=data,
                                  method=method.state_dict(), trainer={"epoch": 0, "global_step": 0})
    return save_checkpoint(checkpoint, folder / "specgan_dim64.tar")


def spectrogen_sample(checkpoint: Path, out: Path, n: int, iters: int, batch_size: int) -> tuple[float, float, float]:
    """Returns (wall seconds, CPU seconds, seconds of audio) of the sampling pipeline with .wav output."""
    from spectrogen.sampling.load import load_generator
    from spectrogen.sampling.outputs import write_samples

    start, cpu = time.perf_counter(), time.process_time()
    model = load_generator(checkpoint)
    result = write_samples(model, out, n, formats=("npy", "wav"), seed=0, batch_size=batch_size,
                           griffin_lim_iters=iters)
    return time.perf_counter() - start, time.process_time() - cpu, result.seconds_of_audio


def librosa_sample(checkpoint: Path, out: Path, n: int, iters: int, batch_size: int) -> tuple[float, float]:
    """Returns (wall seconds, CPU seconds) of load + generate + a librosa.griffinlim loop + .wav writing."""
    import librosa
    import soundfile

    from spectrogen.sampling.audio import set_level
    from spectrogen.sampling.generate import generate
    from spectrogen.sampling.load import load_generator

    start, cpu = time.perf_counter(), time.process_time()
    model = load_generator(checkpoint)
    samples = generate(model, n, seed=0, batch_size=batch_size)  # (N, 1, 128, 128)
    representation = model.representation
    out.mkdir(parents=True, exist_ok=True)
    for i, spectrogram in enumerate(samples[:, 0]):
        with torch.inference_mode():
            magnitude = representation.magnitude(model.normalizer.inverse(spectrogram[None]))[0].numpy()  # (128, T)
        magnitude = np.concatenate([magnitude, np.zeros_like(magnitude[:1])])  # Nyquist row back: (129, T)
        audio = librosa.griffinlim(magnitude, n_iter=iters, hop_length=representation.hop_length,
                                   win_length=representation.win_length, n_fft=representation.n_fft,
                                   center=False, random_state=i)  # frames from sample 0, like spectrogen's
        audio = set_level(audio[None, :representation.num_samples])[0]  # the level `spectrogen sample` writes
        soundfile.write(str(out / f"sample_{i:03d}.wav"), audio, representation.sample_rate, subtype="PCM_16")
    return time.perf_counter() - start, time.process_time() - cpu


def convergence(folder: Path, target: np.ndarray, representation) -> float:
    """Returns the mean spectral convergence of the .wav files in `folder` against target features (N, F, T)."""
    import soundfile

    from spectrogen.spectral.compression import decompress
    from spectrogen.spectral.stft import spectral_convergence

    audio = np.stack([soundfile.read(p, dtype="float32")[0] for p in sorted(folder.glob("*.wav"))])
    got = representation.features(torch.from_numpy(audio))
    # peak normalisation rescales each clip: compare shapes of the spectra, not their levels
    want = decompress(torch.from_numpy(target), representation.log)
    have = decompress(got, representation.log)
    have = have * (want.flatten(1).norm(dim=1) / have.flatten(1).norm(dim=1))[:, None, None]
    return float(spectral_convergence(want, have).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64, help="samples per run (each 1.024 s of audio)")
    parser.add_argument("--iters", type=int, default=32, help="Griffin-Lim iterations, both paths")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--dim", type=int, default=64, help="SpecGAN width multiplier")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2, help="best of this many runs per path")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from spectrogen.sampling.generate import generate
    from spectrogen.sampling.load import load_generator

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        checkpoint = make_checkpoint(folder, args.dim)
        spectrogen_sample(checkpoint, folder / "warmup", 2, 2, 2)  # first-call costs (filter banks, imports)
        librosa_sample(checkpoint, folder / "warmup_librosa", 1, 2, 1)

        ours, theirs = [], []  # (wall, cpu) per repeat
        for repeat in range(args.repeats):
            wall, cpu, audio_seconds = spectrogen_sample(checkpoint, folder / f"ours{repeat}", args.n, args.iters,
                                                         args.batch_size)
            ours.append((wall, cpu))
            theirs.append(librosa_sample(checkpoint, folder / f"librosa{repeat}", args.n, args.iters,
                                         args.batch_size))

        model = load_generator(checkpoint)
        start, cpu = time.perf_counter(), time.process_time()
        samples = generate(model, args.n, seed=0, batch_size=args.batch_size)
        generation = (time.perf_counter() - start, time.process_time() - cpu)
        with torch.inference_mode():
            target = model.normalizer.inverse(samples[:, 0]).numpy()
        quality_ours = convergence(folder / "ours0", target, model.representation)
        quality_theirs = convergence(folder / "librosa0", target, model.representation)

    print(f"SpecGAN 128x128 dim {args.dim}, untrained; {args.n} samples = {audio_seconds:.1f} s of audio; "
          f"{args.iters} Griffin-Lim iterations; torch threads {args.threads}; best of {args.repeats}")
    # CPU seconds are printed too: on a shared machine they vary less than wall time
    for clock, index in (("wall", 0), ("CPU", 1)):
        best_ours, best_theirs = min(r[index] for r in ours), min(r[index] for r in theirs)
        print(f"[{clock} time{', summed over threads' if clock == 'CPU' else ''}]")
        print(f"  generation alone:                    {generation[index]:7.2f} s")
        print(f"  spectrogen sample (npy + wav):       {best_ours:7.2f} s   RTF {audio_seconds / best_ours:7.2f}x")
        print(f"  librosa.griffinlim loop (+ wav):     {best_theirs:7.2f} s   RTF {audio_seconds / best_theirs:7.2f}x")
        print(f"  ratio (spectrogen RTF / librosa RTF): {best_theirs / best_ours:.2f}")
        inversion_ours, inversion_theirs = best_ours - generation[index], best_theirs - generation[index]
        if inversion_ours > 0 and inversion_theirs > 0:
            print(f"  inversion + writing only: spectrogen {inversion_ours:.2f} s, librosa {inversion_theirs:.2f} s, "
                  f"ratio {inversion_theirs / inversion_ours:.2f}")
    print(f"  spectral convergence vs target: spectrogen {quality_ours:.3f}, librosa {quality_theirs:.3f}")


if __name__ == "__main__":
    main()
