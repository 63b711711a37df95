"""Turn .npy spectrogram arrays into PNG/JPEG images: one image per spectrogram, or one grid per file.

Examples:
  spectrogen convert runs/x/samples/epoch_001.npy                 # epoch_001_images/epoch_001_sample_01.png ...
  spectrogen convert runs/x/samples/epoch_001.npy --mode grid     # epoch_001_grid.png
  spectrogen convert --batch-convert runs/x/samples/              # every .npy in the folder
  spectrogen convert epoch_001.npy --format jpeg --quality 95 --colormap viridis --out images/

Arrays may be (N, 1, H, W), (N, H, W) or (H, W); a 3-D array is always N spectrograms of H x W,
never one multi-channel image. Low frequencies are drawn at the bottom. Images that already exist
are replaced only with --overwrite (a folder conversion skips them, so it can be run again as a
run adds epochs); the .npy files are never changed.
"""

from __future__ import annotations

import argparse
import sys

from spectrogen.errors import InputError
from spectrogen.sampling.convert import convert


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH", help="a .npy file, or a folder of them")
    parser.add_argument("--mode", choices=["individual", "grid"], default="individual",
                        help="one image per spectrogram (default) or one grid per file")
    parser.add_argument("--format", dest="fmt", choices=["png", "jpeg", "jpg"], default="png")
    parser.add_argument("--quality", type=int, default=95, help="JPEG quality 1..100 (default 95)")
    parser.add_argument("--colormap", default="magma", help="matplotlib colormap name (default magma)")
    parser.add_argument("--batch-convert", action="store_true",
                        help="PATH is a folder: convert every .npy file directly in it")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help="write the images here (default: next to each .npy file)")
    parser.add_argument("--overwrite", action="store_true", help="replace images that already exist")


def run(args: argparse.Namespace) -> int:
    report = convert(args.path, batch=args.batch_convert, mode=args.mode, fmt=args.fmt, quality=args.quality,
                     colormap=args.colormap, out_dir=args.out, overwrite=args.overwrite)
    for source, why in report.skipped:
        print(f"skipped {source}: {why}")
    for _, message in report.failed:
        print(f"spectrogen convert: error: {message}", file=sys.stderr)
    print(f"wrote {len(report.written)} image(s)" + (f" under {report.written[0].parent}" if report.written else ""))
    if report.failed:
        raise InputError(f"{len(report.failed)} file(s) could not be converted (see above); the others were")
    return 0
