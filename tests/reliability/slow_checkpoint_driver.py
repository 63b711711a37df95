"""`spectrogen ARGV` with one checkpoint write that stalls for ten minutes, so that a test can SIGKILL it there.

SLOW_CHECKPOINT_NAME names the file (e.g. final_model.tar); SLOW_CHECKPOINT_STAGE is "half" (half its bytes in the
temporary file, flushed) or "rename" (whole, not yet renamed); SLOW_CHECKPOINT_MARKER is made once the write stalls.
Only this process's `torch` name of the checkpoint module and `os` name of `spectrogen.atomic` are wrapped.
"""

from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path

import torch

from spectrogen import atomic
from spectrogen.training import checkpoint

NAME = os.environ["SLOW_CHECKPOINT_NAME"]
STAGE = os.environ["SLOW_CHECKPOINT_STAGE"]
MARKER = Path(os.environ["SLOW_CHECKPOINT_MARKER"])


def _stall(what: str) -> None:
    MARKER.write_text(what + "\n", encoding="utf-8")
    time.sleep(600)


class _StallingTorch:
    """`torch` as the checkpoint module sees it, with a `save` that stops half-way through one file."""

    def __getattr__(self, name):
        return getattr(torch, name)

    def save(self, obj, handle, *args, **kwargs):
        target = Path(getattr(handle, "name", ""))
        if STAGE != "half" or not target.name.startswith(f".{NAME}."):
            return torch.save(obj, handle, *args, **kwargs)
        buffer = io.BytesIO()
        torch.save(obj, buffer, *args, **kwargs)
        data = buffer.getvalue()
        handle.write(data[: len(data) // 2])
        handle.flush()
        os.fsync(handle.fileno())
        _stall(f"half of {target} written")
        handle.write(data[len(data) // 2:])


class _StallingOs:
    """`os` as `spectrogen.atomic` sees it, with a `replace` that stops before renaming one file."""

    def __getattr__(self, name):
        return getattr(os, name)

    def replace(self, source, target):
        if STAGE == "rename" and Path(target).name == NAME and str(source).endswith(".tmp"):
            _stall(f"{source} complete, not yet renamed to {target}")
        return os.replace(source, target)


checkpoint.torch = _StallingTorch()
atomic.os = _StallingOs()

if __name__ == "__main__":
    from spectrogen.cli.main import main

    raise SystemExit(main(sys.argv[1:]))
