"""`spectrogen` entry point: one sub-command per module in this package. A failure the user can act on (the errors
of `spectrogen.errors`, OS errors on files, also wrapped by a library: torch.save raises RuntimeError over the OSError
of a full disk) ends in one line naming the path or field and the cause; anything else keeps its traceback."""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
import warnings
from typing import Optional

from spectrogen import __version__
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
# a full disk exits 1 (the environment failed, the command was right); other OS errors on paths
# the user gave are usage errors (exit 2)
DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
OS_ERROR_HINTS = {
    **dict.fromkeys((errno.ENOSPC, errno.EDQUOT), "free some space or write to another disk"),
    **dict.fromkeys((errno.EACCES, errno.EPERM), "choose a folder you can write to"),
    errno.EROFS: "the file system is read-only: choose another folder",
    errno.ENOTDIR: "a part of the path is a file, not a folder: choose another path",
    errno.EISDIR: "it is a folder: give a file name",
    errno.EEXIST: "it already exists: choose another path",
    errno.ENAMETOOLONG: "shorten the path",
}


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
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
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


def quiet_library_warnings() -> None:
    """Hides the warnings libraries print about their own internals, which the user cannot change (see --debug)."""
    for module in ("numpy", "torch", "scipy", "sklearn", "librosa", "matplotlib", "PIL", "soundfile",
                   "pydantic", "numba", "tensorboard"):
        warnings.filterwarnings("ignore", module=rf"{module}(\.|$)")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=RuntimeWarning, message=r".*(overflow|invalid value|divide by zero).*")


def expected_failure(exc: Exception) -> Optional[tuple[str, int]]:
    """Returns (one-line message, exit code) of a failure the user can act on, or None for a defect."""
    if isinstance(exc, SpectrogenError):
        return str(exc), exc.exit_code
    if isinstance(exc, MemoryError):
        return "out of memory; ask for less at once (a smaller --batch-size, --n or size)", 1
    error = os_error_in_chain(exc)
    if error is None:
        return None
    hint = OS_ERROR_HINTS.get(error.errno)
    message = (f"{error.filename}: " if error.filename else "") + (error.strerror or str(error))
    return message + (f"; {hint}" if hint else ""), 1 if error.errno in DISK_FULL else 2


def main(argv: list[str] | None = None) -> int:
    args = build_parser(argv).parse_args(argv)
    debug = args.debug or os.environ.get("SPECTROGEN_DEBUG", "") not in ("", "0")
    if not debug:
        quiet_library_warnings()
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print(f"spectrogen {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        failure = None if debug else expected_failure(exc)
        if failure is None:
            raise
        print(f"spectrogen {args.command}: error: {failure[0]}", file=sys.stderr, flush=True)
        return failure[1]


if __name__ == "__main__":
    raise SystemExit(main())
