"""spectrogen demo (not available yet in this version)."""

from __future__ import annotations

import argparse

from spectrogen.errors import NotAvailableError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    raise NotAvailableError("`spectrogen demo` is not available yet in this version")
