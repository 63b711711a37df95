"""(Re)write report.html of a training run: statistics plots, sample grid, samples with audio, real examples.

Examples:
  spectrogen report runs/specgan            # -> runs/specgan/report.html and runs/specgan/report_audio/
  spectrogen report spectrogen_demo/run

Every training run writes its report at the end (output.report); this command rebuilds it, e.g.
for a run that was stopped, or after the data set moved back into place. The page is one
self-contained file (images embedded); the .wav files it plays sit beside it in report_audio/.
"""

from __future__ import annotations

import argparse

from spectrogen.report import write_report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory (the --output-dir of `spectrogen train`)")


def run(args: argparse.Namespace) -> int:
    path = write_report(args.run_dir)
    print(f"wrote {path}")
    print(f"open it in a browser: file://{path.resolve()}")
    return 0
