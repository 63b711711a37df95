"""Build a training set from recordings, spectrogram files, MUSDB18, MNIST or a built-in set.

Examples:
  spectrogen prepare recordings/ --out data/engines             # audio, SpecGAN 128x128 features
  spectrogen prepare recordings/ --out data/mel --representation mel --n-mels 80
  spectrogen prepare spectrograms_csv/ --out data/csv --freq-axis 1
  spectrogen prepare musdb18hq/ --out data/vocals --kind musdb --stems vocals --split train
  spectrogen prepare mnist_idx/ --out data/mnist --kind mnist
  spectrogen prepare builtin:engines --out data/builtin          # no download: generated engines
  spectrogen prepare builtin:digits --out data/digits            # scikit-learn's digits, 32x32

SRC is a folder (or one file). With sub-folders, the first-level sub-folder is each file's class.
Recordings (wav, flac, ogg, mp3, aiff; any sample rate and channel count) are resampled, mixed to
mono and sliced as the "recordings" options below say; the summary says which slicing was used and
why. CSV, PNG and .npy files are stored as they are (row 0 = lowest frequency; PNGs are flipped
since their top row is the highest). Files that cannot be used are skipped and listed at the end;
the source is never modified.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import fields

from spectrogen.data import PrepareOptions, prepare
from spectrogen.data.options import MAX_EXAMPLE_BINS, MAX_EXAMPLE_SAMPLES, SIZE_LIMITS

# flag -> Representation field
REPRESENTATION_FLAGS = {"sample_rate": "sample_rate", "n_fft": "n_fft", "win_length": "win_length", "hop": "hop_length",
                        "n_mels": "n_mels", "fmin": "fmin", "fmax": "fmax", "frames": "frames", "log": "log",
                        "image_size": "image_size"}


def _silence(text: str) -> float:
    if text.lower() in ("off", "none"):
        return -math.inf  # every window is at least this loud
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of dBFS (e.g. -60) or 'off'") from None
    if math.isnan(value) or value > 0:
        raise argparse.ArgumentTypeError(f"{text}: use a level of at most 0 dBFS, e.g. -60, or 'off'")
    return value


def _size(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.lower().split("x")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: use H or HxW, e.g. 128 or 128x256") from None
    if len(sizes) not in (1, 2) or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: use H or HxW with positive sizes")
    return sizes * 2 if len(sizes) == 1 else sizes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SRC", help="folder or file to read, or builtin:engines / builtin:digits")
    parser.add_argument("--out", required=True, metavar="DATA", help="folder to write the data set to")
    parser.add_argument("--kind", default="auto",
                        choices=["auto", "audio", "csv", "png", "npy", "musdb", "mnist"],
                        help="what SRC holds (default: detected from its files)")
    parser.add_argument("--overwrite", action="store_true", help="replace a data set (or anything) already in DATA")
    parser.add_argument("--limit", type=int, metavar="N", help="stop after N examples (a quick try)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar; print one line at the end")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="processes decoding recordings (default 1: decode in the main process, "
                             "with read-ahead threads); the data set is the same either way")

    bounds = {field: f"{low} to {high}" for field, (_, low, high) in SIZE_LIMITS.items()}
    rep = parser.add_argument_group(
        "representation (how audio becomes features)",
        f"Sizes are bounded so that a typo is refused before any file is read: besides each flag's\n"
        f"range, one example may span at most {MAX_EXAMPLE_SAMPLES} samples (--frames x --hop) and "
        f"{MAX_EXAMPLE_BINS} STFT\nvalues ((--n-fft / 2 + 1) x --frames).")
    rep.add_argument("--representation", metavar="NAME", choices=["specgan", "mel", "autoencoder"],
                     help="specgan (16 kHz, 128x128 log STFT), mel (log-mel) or autoencoder "
                          "(16 kHz, 128 mels x 256 frames); default: specgan for audio, autoencoder for "
                          "MUSDB18, the files' own size for CSV/PNG/NPY")
    rep.add_argument("--sample-rate", type=int, metavar="HZ", help=bounds["sample_rate"])
    rep.add_argument("--n-fft", type=int, help=f"FFT length in samples, {bounds['n_fft']}")
    rep.add_argument("--win-length", type=int)
    rep.add_argument("--hop", type=int, metavar="SAMPLES", help="STFT hop length")
    rep.add_argument("--n-mels", type=int, help=f"mel bands, {bounds['n_mels']}")
    rep.add_argument("--fmin", type=float, metavar="HZ")
    rep.add_argument("--fmax", type=float, metavar="HZ")
    rep.add_argument("--frames", type=int, help=f"frames per example (sets the window length), {bounds['frames']}")
    rep.add_argument("--log", choices=["log_eps", "log1p", "db"], help="log compression of magnitudes")
    rep.add_argument("--image-size", type=_size, metavar="H[xW]",
                     help=f"store each example at H x W (its power resized once), each side {bounds['image_size']}; "
                          f"the model's size is train's --image-size, by default this one")

    cut = parser.add_argument_group("recordings")
    cut.add_argument("--slicing", choices=["auto", "onset", "windows"], default="auto",
                     help="onset: one example per file, from the sound's onset, zero-padded or cut to the "
                          "window (one-shots: drum hits, spoken words); windows: cut each recording into "
                          "windows; auto (default): onset when the median file is at most one window long, or a "
                          "quarter of the files are shorter than half a window")
    cut.add_argument("--max-windows-per-file", type=int, metavar="N",
                     help="windows: use at most the first N windows of each recording, so that one long "
                          "file cannot outweigh its class (default: all)")
    cut.add_argument("--window-hop", type=float, metavar="SECONDS",
                     help="seconds between window starts (default: one window, no overlap)")
    cut.add_argument("--short", choices=["pad", "drop"], default="pad",
                     help="windows running past the end: pad (when at least half is audio) or drop")
    cut.add_argument("--silence-db", type=_silence, metavar="DBFS",
                     help="drop windows whose RMS is below this level (default -60; 'off' keeps all)")

    files = parser.add_argument_group("spectrogram files, MUSDB18, MNIST, built-ins")
    files.add_argument("--freq-axis", type=int, choices=[0, 1], default=0,
                       help="axis of each CSV/NPY example that is frequency: 0 rows (default) or 1 columns")
    files.add_argument("--stems", metavar="LIST",
                       help="MUSDB18 stems to read, comma-separated, each a class "
                            "(default mixture,drums,bass,other,vocals)")
    files.add_argument("--split", choices=["train", "test"], default="train", help="MUSDB18 / MNIST split")
    files.add_argument("--count", type=int, metavar="N", help="builtin:engines clips per engine type (default 32)")
    files.add_argument("--seed", type=int, default=0, help="seed of builtin:engines (default 0)")


def run(args: argparse.Namespace) -> int:
    settings = {field: getattr(args, flag) for flag, field in REPRESENTATION_FLAGS.items()
                if getattr(args, flag) is not None}
    # each PrepareOptions field has its flag; flags left out keep the library's defaults
    options = {field.name: getattr(args, field.name) for field in fields(PrepareOptions)
               if getattr(args, field.name) is not None}
    if args.stems is not None:
        options["stems"] = [stem.strip() for stem in args.stems.split(",") if stem.strip()]
    summary = prepare(args.source, args.out, representation=args.representation, settings=settings, kind=args.kind,
                      overwrite=args.overwrite, quiet=args.quiet, workers=args.workers, **options)
    if args.quiet:
        print(f"prepared {summary.out}: {summary.examples} examples from {summary.files_used} files, "
              f"{len(summary.skipped)} skipped")
    else:
        print(summary.format())
    return 0
