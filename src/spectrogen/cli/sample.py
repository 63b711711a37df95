"""Generate spectrograms from a checkpoint, and on request images and .wav files.

Examples:
  spectrogen sample runs/x/checkpoints/best_model.tar --n 16 --out samples/
  spectrogen sample best_model.tar --n 8 --out out/ --format npy,png,wav --seed 0
  spectrogen sample cgan/final_model.tar --n 20 --out out/ --format wav          # 20 split equally over the classes
  spectrogen sample cgan/final_model.tar --n 5 --out out/ --class dog --format wav
  spectrogen sample specgan.tar --n 64 --out out/ --truncation 0.5 --griffin-lim-iters 64

Only the sampling networks are loaded (the EMA generator when training kept one), with
weights_only=True: a file that carries code is refused, never run. samples.npy holds (N, 1, H, W) in
the data's normalised range; .wav files are the spectrograms denormalised and inverted (mel ->
linear, a phase integrated from the magnitude (PGHI), then fast Griffin-Lim). They keep the level
the spectrogram implies, which is the level of the recordings the model learned from (`prepare`
never rescales audio), so that generated and real clips compare; a clip that would clip is turned
down to -1 dBFS; sampling.json records the --loudness mode and each file's RMS. --truncation applies
to GANs only (normal latents: components beyond |T| are redrawn; uniform latents: clamped). Samples
are made and written --batch-size at a time, so memory holds one batch however large --n is: images
and .wav files appear as each batch is done, samples.npy grows under a hidden temporary name and
gets its name when whole, and sampling.json is written last. Images share the colour scale of the
first batch; grid.png shows the first 64 samples. For GANs and autoencoders a seed gives the same
samples whatever --batch-size, and the first N of 2N samples are those of N (unconditional models,
or one --class). --out must be a folder or a path where one can be made; files already in it are
never replaced unless --overwrite, and then only files with the run's own names (samples.npy,
sampling.json, labels.npy, grid.png, sample_01.png, ...).
"""

from __future__ import annotations

import argparse
import sys

from spectrogen.sampling.audio import DEFAULT_LOUDNESS, LOUDNESS_MODES
from spectrogen.sampling.generate import set_diffusion_sampling
from spectrogen.sampling.load import load_generator
from spectrogen.sampling.outputs import write_samples
from spectrogen.spectral.griffin_lim import PHASE_INITS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", metavar="CHECKPOINT", help="a .tar file from a run's checkpoints/ folder")
    parser.add_argument("--n", type=int, default=16, help="number of samples (default 16, at most 10 million)")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for samples.npy, images and .wav files")
    parser.add_argument("--class", dest="class_choice", metavar="NAME|INDEX",
                        help="conditional models: generate this class only (default: equal numbers per class)")
    parser.add_argument("--format", dest="formats", default="npy", metavar="npy,png,wav",
                        help="comma-separated outputs; samples.npy is always written (default npy)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: a fresh one, saved in sampling.json)")
    parser.add_argument("--truncation", type=float, default=None, metavar="T",
                        help="GANs: keep latent components within |T| (e.g. 0.7); less variety, more typical samples")
    parser.add_argument("--batch-size", type=int, default=64, help="samples generated at once (default 64)")
    parser.add_argument("--griffin-lim-iters", type=int, default=None, metavar="K",
                        help="Griffin-Lim iterations for .wav (default: output.griffin_lim_iterations of the run, 32)")
    parser.add_argument("--loudness", choices=LOUDNESS_MODES, default=DEFAULT_LOUDNESS,
                        help="level of the .wav files: data (default: the level of the training recordings), "
                             "rms (-20 dBFS RMS each) or peak (robust peak at -1 dBFS each)")
    parser.add_argument("--phase-init", choices=PHASE_INITS, default="pghi",
                        help="starting phase of Griffin-Lim: pghi (default: integrated from the magnitude), "
                             "random or zeros")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or auto")
    parser.add_argument("--overwrite", action="store_true", help="replace files already in --out")
    diffusion = parser.add_argument_group("diffusion models (default: the run's model.diffusion settings)")
    diffusion.add_argument("--sampler", choices=["ddpm", "ddim"], help="ancestral DDPM or DDIM")
    diffusion.add_argument("--steps", type=int, metavar="N", help="DDIM sampling steps (DDPM always runs all training timesteps)")
    diffusion.add_argument("--eta", type=float, help="DDIM stochasticity, 0 is deterministic")
    diffusion.add_argument("--guidance-scale", type=float, metavar="G",
                           help="classifier-free guidance for conditional models (1: none)")
    parser.add_argument("--quiet", action="store_true", help="print only the summary")


def run(args: argparse.Namespace) -> int:
    log = (lambda _: None) if args.quiet else (lambda line: print(line, flush=True))
    model = load_generator(args.checkpoint, device=args.device)
    set_diffusion_sampling(model, sampler=args.sampler, steps=args.steps, eta=args.eta,
                           guidance_scale=args.guidance_scale)
    result = write_samples(model, args.out, args.n, class_choice=args.class_choice, formats=args.formats,
                           seed=args.seed, truncation=args.truncation, batch_size=args.batch_size,
                           griffin_lim_iters=args.griffin_lim_iters, overwrite=args.overwrite,
                           loudness=args.loudness, phase_init=args.phase_init, log=log)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    written = [f"{result.samples}"]
    if result.images:
        written.append(f"{len(result.images)} image(s)")
    if result.audio:
        levels = result.levels_dbfs
        written.append(f"{len(result.audio)} .wav file(s), {result.seconds_of_audio:.1f} s of audio "
                       f"(RMS {min(levels):.0f} to {max(levels):.0f} dBFS, loudness {args.loudness})")
    print(f"wrote {', '.join(written)} in {result.wall_seconds:.1f} s")
    return 0
