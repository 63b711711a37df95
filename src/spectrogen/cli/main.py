"""`spectrogen` entry point: one sub-command per module in this package."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Optional

from spectrogen import __version__
from spectrogen.cli.failures import describe_os_error, print_error, quiet_library_warnings
from spectrogen.errors import SpectrogenError, os_error_in_chain

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
DEBUG_HELP = "show the full traceback of an error and the libraries' warnings"


def build_parser(argv: Optional[list[str]] = None) -> argparse.ArgumentParser:
    """Returns the parser of `argv`: only the sub-command it names is imported (each pulls in torch)."""
    argv = sys.argv[1:] if argv is None else argv
    chosen = next((arg for arg in argv if not arg.startswith("-")), None)
    parser = argparse.ArgumentParser(
        prog="spectrogen",
        description="Generative models of audio spectrograms: prepare data, train, sample, listen, evaluate.",
        epilog="Run `spectrogen COMMAND --help` for the options of one command. "
        "Start with `spectrogen demo` to see a whole run on built-in data.",
    )
    parser.add_argument("--version", action="version", version=f"spectrogen {__version__}")
    parser.add_argument("--debug", action="store_true", help=f"{DEBUG_HELP} (also SPECTROGEN_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module_name, help_text) in COMMANDS.items():
        if name != chosen:
            sub.add_parser(name, help=help_text)
            continue
        module = importlib.import_module(module_name)
        command = sub.add_parser(name, help=help_text, description=(module.__doc__ or help_text).strip(),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(command)
        # accepted after the sub-command too; SUPPRESS keeps a --debug given before it
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
        command.set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser(argv).parse_args(argv)
    debug = args.debug or os.environ.get("SPECTROGEN_DEBUG", "") not in ("", "0")
    if not debug:
        quiet_library_warnings()
    try:
        return int(args.handler(args) or 0)
    except SpectrogenError as exc:
        if debug:
            raise
        print_error(args.command, str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"spectrogen {args.command}: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        if debug:
            raise
        print_error(args.command, "out of memory; ask for less at once (a smaller --batch-size, --n or size)")
        return 1
    except Exception as exc:  # an OS error on a file is the user's to fix; anything else is a defect
        error = os_error_in_chain(exc)
        if error is None or debug:
            raise
        message, code = describe_os_error(error)
        print_error(args.command, message)
        return code


if __name__ == "__main__":
    raise SystemExit(main())
