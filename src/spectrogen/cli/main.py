"""`spectrogen` entry point: one sub-command per module in this package."""

from __future__ import annotations

import argparse
import importlib
import sys

from spectrogen import __version__
from spectrogen.errors import SpectrogenError

# sub-command -> (module, one-line help)
COMMANDS = {
    "prepare": ("spectrogen.cli.prepare", "build a training set from audio, CSV, PNG, NPY, MUSDB18, MNIST or a built-in set"),
    "train": ("spectrogen.cli.train", "train a model (dcgan, specgan, cgan, diffusion, autoencoder)"),
    "sample": ("spectrogen.cli.sample", "generate spectrograms, images and .wav files from a checkpoint"),
    "convert": ("spectrogen.cli.convert", "turn .npy spectrogram arrays into PNG/JPEG images"),
    "evaluate": ("spectrogen.cli.evaluate", "measure generated spectrograms against a data set"),
    "reconstruct": ("spectrogen.cli.reconstruct", "run audio through a trained autoencoder"),
    "report": ("spectrogen.cli.report", "(re)write report.html of a run directory"),
    "demo": ("spectrogen.cli.demo", "build the built-in data set, train briefly, sample and write a report"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spectrogen",
        description="Generative models of audio spectrograms: prepare data, train, sample, listen, evaluate.",
        epilog="Run `spectrogen COMMAND --help` for the options of one command. "
        "Start with `spectrogen demo` to see a whole run on built-in data.",
    )
    parser.add_argument("--version", action="version", version=f"spectrogen {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        command = sub.add_parser(
            name,
            help=help_text,
            description=(module.__doc__ or help_text).strip(),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(command)
        command.set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except SpectrogenError as exc:
        print(f"spectrogen {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"spectrogen {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
