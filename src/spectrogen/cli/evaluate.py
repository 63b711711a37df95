"""Measure generated spectrograms against a data set, offline, with a feature network of your own.

Examples:
  spectrogen evaluate --train-classifier data/sc09 --out sc09_classifier.pt
  spectrogen evaluate runs/specgan --data data/sc09 --classifier sc09_classifier.pt
  spectrogen evaluate runs/specgan/checkpoints/final_model.tar --data data/sc09 --n 2000 --metrics fid,kid,is
  spectrogen evaluate --samples out/samples.npy --data data/sc09 --classifier sc09_classifier.pt
  spectrogen evaluate runs/cgan --data data/birds --heldout data/birds_test --out runs/cgan/evaluation

A run directory is evaluated at checkpoints/best_model.tar (else final_model.tar, else the latest
checkpoint). Writes OUT/metrics.json and OUT/metrics.txt (an earlier evaluation there is replaced
only with --overwrite) and prints the table. Metrics: fid, kid,
is, ndb, pr (precision/recall), diversity (SSIM/MS-SSIM), nn (memorisation), spectral (no feature
network: checkerboard artifacts, level and spread in dB, silent gaps, harmonic lines, each beside
the real data's own), profile; default all but profile.

The feature network (for fid, kid, is, pr) is a classifier trained on your labelled data set
(--train-classifier; unlabelled data get a contrastive embedding with k-means pseudo-classes), or a
network you exported yourself (--inception FILE: torch.export .pt2 or TorchScript, taking
(B, 1, H, W) spectrograms normalised per frequency to [-1, 1] and returning features or
(features, logits)). Nothing is downloaded. Without either, a run's own metrics classifier is used,
or a quick one is trained on the spot (figures then compare only with evaluations that used it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import get_args

from spectrogen.errors import OverwriteError, UsageError
from spectrogen.metrics.checkpoint_evaluation import evaluate_checkpoint, evaluate_sample_file
from spectrogen.metrics.classifier import save_classifier
from spectrogen.metrics.classifier_training import ClassifierOptions, train_classifier_on_dataset
from spectrogen.metrics.evaluate import parse_metrics
from spectrogen.metrics.table import METRICS_FILE, format_table, write_metrics
from spectrogen.paths import check_file_path, check_folder_path
from spectrogen.spectral.normalization import NormalizationKind
from spectrogen.training.device import device_for_flag
from spectrogen.training.run_directory import run_of_checkpoint

NORMALIZATIONS = get_args(NormalizationKind)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", nargs="?", metavar="CHECKPOINT_OR_RUN",
                        help="a checkpoint .tar file or a run directory")
    parser.add_argument("--data", metavar="DATA", help="the data set (folder made by `spectrogen prepare`)")
    parser.add_argument("--n", type=int, default=1000, help="samples to generate and compare (default 1000)")
    parser.add_argument("--metrics", default="all", metavar="fid,kid,is,ndb,pr,diversity,nn,spectral",
                        help="comma-separated metrics (default all; `profile` is also available)")
    network = parser.add_mutually_exclusive_group()
    network.add_argument("--classifier", metavar="PATH", help="a classifier made by --train-classifier")
    network.add_argument("--inception", metavar="PATH",
                         help="your own feature network: a local torch.export (.pt2) or TorchScript file")
    parser.add_argument("--samples", metavar="FILE.npy", help="evaluate these samples (N, 1, H, W) instead of sampling")
    parser.add_argument("--samples-normalization", default="per_frequency", choices=NORMALIZATIONS,
                        help="how --samples are normalised when no checkpoint says so (default per_frequency; "
                             "none: un-normalised features)")
    parser.add_argument("--heldout", metavar="DATA", help="a data set the model never saw, for the memorisation check")
    parser.add_argument("--out", metavar="DIR_OR_FILE",
                        help="folder for metrics.json (default: RUN/evaluation or beside --samples); "
                             "with --train-classifier the classifier file")
    parser.add_argument("--seed", type=int, default=0, help="seed of the samples and subsets (default 0)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or auto")
    parser.add_argument("--batch-size", type=int, default=64, help="samples generated at once (default 64)")
    training = parser.add_argument_group("training a feature network")
    training.add_argument("--train-classifier", metavar="DATA", help="train a classifier on this data set")
    training.add_argument("--size", metavar="HxW", help="train at this size (the models' size) instead of the data's")
    training.add_argument("--epochs", type=int, default=6, help="classifier training epochs (default 6)")
    training.add_argument("--normalization", default="per_frequency", choices=NORMALIZATIONS,
                          help="normalisation of the data, as training uses it (default per_frequency)")
    training.add_argument("--overwrite", action="store_true",
                          help="replace an existing classifier file, or the metrics of an earlier evaluation in --out")


def _size(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        sizes = [int(p) for p in text.lower().split("x")]
    except ValueError:
        sizes = []
    if len(sizes) not in (1, 2) or min(sizes) < 8:
        raise UsageError(f"--size {text!r}: give HxW or one side for a square, at least 8, e.g. 128x128")
    return (sizes[0], sizes[-1])


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _train_classifier(args: argparse.Namespace) -> int:
    if not args.out:
        raise UsageError("--train-classifier needs --out CLASSIFIER.pt, the file to write")
    out = check_file_path(args.out, "--out")
    if out.exists() and not args.overwrite:
        raise OverwriteError(f"{out} already exists; choose another --out or pass --overwrite")
    if args.epochs < 1:
        raise UsageError(f"--epochs {args.epochs}: train for at least 1 epoch")
    options = ClassifierOptions(epochs=args.epochs, seed=args.seed, device=_device(args.device))
    classifier = train_classifier_on_dataset(args.train_classifier, shape=_size(args.size),
                                             normalization=args.normalization, options=options, log=_log)
    save_classifier(classifier, out)
    heldout = classifier.heldout
    print(f"wrote {out}: {classifier.kind} feature network for {classifier.input_shape[0]}x"
          f"{classifier.input_shape[1]} spectrograms, {len(classifier.class_names)} classes; held-out "
          f"{heldout['measure']}: {heldout['accuracy']:.3f} ({heldout['count']} examples), "
          f"trained in {classifier.training['seconds']:.1f} s")
    return 0


def _device(name: str) -> str:
    try:
        return str(device_for_flag(name))
    except RuntimeError:  # a name torch does not know
        raise UsageError(f"--device {name!r}: use cpu, cuda, cuda:N or auto") from None


def _default_out(args: argparse.Namespace) -> Path:
    if args.out:
        return Path(args.out)
    if args.target:
        target = Path(args.target)
        if target.is_dir():
            return target / "evaluation"
        return (run_of_checkpoint(target) or target.parent) / "evaluation" / target.stem
    return Path(args.samples).parent / "evaluation"


def run(args: argparse.Namespace) -> int:
    if args.train_classifier:
        return _train_classifier(args)
    if not args.target and not args.samples:
        raise UsageError("give a checkpoint or run directory to evaluate (or --samples FILE.npy), "
                         "or --train-classifier DATA to make a feature network")
    if not args.data:
        raise UsageError("--data DATA is required: the data set to compare with")
    if args.n < 2:
        raise UsageError(f"--n {args.n}: the metrics compare sets, ask for at least 2 samples")
    metrics = parse_metrics(args.metrics)  # checked before anything slow
    out = check_folder_path(_default_out(args), "--out")
    if (out / METRICS_FILE).exists() and not args.overwrite:
        raise OverwriteError(f"{out} already holds {METRICS_FILE} of an earlier evaluation; pass --overwrite "
                             f"to replace it, or choose another --out")
    common = dict(metrics=metrics, classifier=args.classifier, inception=args.inception,
                  heldout_data=args.heldout, seed=args.seed, device=_device(args.device), log=_log)
    if args.samples:
        result = evaluate_sample_file(args.samples, args.data, checkpoint=args.target,
                                      samples_normalization=args.samples_normalization, **common)
    else:
        result = evaluate_checkpoint(args.target, args.data, n=args.n, batch_size=args.batch_size, **common)
    path = write_metrics(result, out)
    print(format_table(result))
    print(f"\nwrote {path} and {path.with_name('metrics.txt')}")
    return 0
