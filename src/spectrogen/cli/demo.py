"""Build a small built-in data set, train a small SpecGAN on it for a few minutes, sample, judge, report.

Examples:
  spectrogen demo                              # -> spectrogen_demo/ in the current folder
  spectrogen demo --minutes 1 --out /tmp/demo  # at most a minute of training (rougher samples)
  spectrogen demo --model cgan                 # the conditional GAN: samples of each engine type
  spectrogen demo --device cuda                # on a GPU

Nothing is downloaded: the data are engine-like sounds synthesised on the spot (four engine types,
64 clips each, 64x64 spectrograms). Training runs 200 epochs (a few minutes on a 2-core laptop, on the
cores other work leaves free); --minutes is a safety net that stops it with a checkpoint (`spectrogen
train --resume OUT/run` continues it). The samples are then compared with the real sounds and a
one-line verdict is printed; the figures are kept in OUT/demo.json and OUT/run/evaluation/. An OUT
folder that is not empty is refused unless --overwrite, which replaces only what a demo writes there
(data/, run/, samples/, demo.json).
"""

from __future__ import annotations

import argparse

from spectrogen.demo import DEFAULT_MINUTES, DEFAULT_OUT, DEMO_MODELS, run_demo, summary_lines


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", "--output-dir", dest="out", default=DEFAULT_OUT, metavar="DIR",
                        help=f"folder for the data set, the run and the samples (default {DEFAULT_OUT}/)")
    parser.add_argument("--minutes", type=float, default=DEFAULT_MINUTES, metavar="M",
                        help=f"at most this many minutes of training, a safety net (default {DEFAULT_MINUTES:g})")
    parser.add_argument("--model", choices=DEMO_MODELS, default="specgan",
                        help="specgan (default) or cgan (conditional: samples of each engine type)")
    parser.add_argument("--device", default="auto", help="auto (a GPU when there is one), cpu, cuda or cuda:N")
    parser.add_argument("--overwrite", action="store_true", help="replace a demo already in --out")
    parser.add_argument("--seed", type=int, default=0, help="seed of training and sampling (default 0); the "
                        "built-in sounds are the same for every seed")
    parser.add_argument("--quiet", action="store_true", help="no progress bars; the stage lines and the summary only")


def run(args: argparse.Namespace) -> int:
    result = run_demo(args.out, minutes=args.minutes, model=args.model, device=args.device,
                      overwrite=args.overwrite, quiet=args.quiet, seed=args.seed, log=lambda line: print(line, flush=True))
    print("\n".join(summary_lines(result)))
    return 0
