"""Checkpoint files: what they hold, atomic writing, safe loading, which one a resume starts from and which one
is best_model.tar. Only what `torch.load(weights_only=True)` accepts is stored (layout: docs/architecture.md)."""

from __future__ import annotations

import math
import os
import pickle
import random
import re
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional

import numpy as np
import torch

from spectrogen import __version__
from spectrogen.atomic import replacing, sync
from spectrogen.errors import CheckpointError, os_error_at
from spectrogen.config.schema import GAN_FAMILIES

FORMAT = "spectrogen-checkpoint"
# 2: GAN generators record how they upsample (model.upsample); before, every one was a transposed convolution
FORMAT_VERSION = 2

ROLLING_PATTERN = re.compile(r"^checkpoint_epoch_(\d+)\.tar$")


def rng_state() -> dict[str, Any]:
    """Returns the states of torch (CPU and CUDA), numpy and Python's `random` as tensors and lists."""
    version, python_state, gauss_next = random.getstate()
    kind, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "position": int(position),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached_gaussian)},
        "python": {"version": version, "state": torch.tensor(python_state, dtype=torch.int64),
                   "gauss_next": gauss_next},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restores the states that `rng_state` returned (CUDA only when the GPU count matches)."""
    torch.set_rng_state(state["torch"].cpu())
    numpy_state = state["numpy"]
    np.random.set_state((numpy_state["kind"], numpy_state["keys"].numpy().astype(np.uint32),
                         numpy_state["position"], numpy_state["has_gauss"], numpy_state["cached_gaussian"]))
    python_state = state["python"]
    random.setstate((python_state["version"], tuple(int(v) for v in python_state["state"].tolist()),
                     python_state["gauss_next"]))
    cuda = state.get("cuda")
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda])


def build_checkpoint(*, model: str, config: dict[str, Any], data: dict[str, Any],
                     method: dict[str, Any], trainer: dict[str, Any]) -> dict[str, Any]:
    """Returns the checkpoint mapping of docs/architecture.md."""
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "spectrogen_version": __version__,
            "model": model, "config": config, "data": data, "method": method, "trainer": trainer}


def save_checkpoint(checkpoint: Mapping[str, Any], path: Path) -> Path:
    """Returns `path` after writing `checkpoint` there durably and atomically (a crash leaves the old file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with replacing(path, durable=True) as temporary, open(temporary, "wb") as handle:
            torch.save(dict(checkpoint), handle)
            sync(handle)
    except Exception as exc:  # torch buries a full disk under its own errors: say which file and why
        error = os_error_at(exc, path)
        if error is None:
            raise
        raise error from None
    return path


def publish_copy(source: Path, target: Path) -> None:
    """Makes `target` hold the same bytes as `source` (a hard link when possible), atomically."""
    with replacing(target, durable=True) as temporary:
        try:
            os.link(source, temporary)
        except OSError:  # file systems without hard links
            shutil.copyfile(source, temporary)


def prune_rolling(folder: Path, keep: int) -> list[Path]:
    """Deletes all but the newest `keep` checkpoint_epoch_N.tar files; returns those deleted."""
    rolling = rolling_checkpoints(folder)
    doomed = rolling[:-keep] if keep > 0 else rolling
    for path in doomed:
        path.unlink()
    return doomed


def rolling_checkpoints(folder: Path) -> list[Path]:
    """Returns the checkpoint_epoch_N.tar files in `folder`, oldest epoch first."""
    if not Path(folder).is_dir():
        return []
    found = [(int(m.group(1)), p) for p in Path(folder).iterdir() if (m := ROLLING_PATTERN.match(p.name))]
    return [p for _, p in sorted(found)]


def _read(path: Path, *, mmap: bool = False) -> Any:
    if not path.is_file():
        raise CheckpointError("no such checkpoint file", path)
    try:
        with warnings.catch_warnings():
            # torch warns about pickle protocols of foreign files; the error below says more
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL (\S+)", str(exc))
        if found:
            raise CheckpointError(
                f"refused: the file carries Python code or objects ({found.group(1)}) that loading would "
                f"run. It was not executed. spectrogen checkpoints hold only tensors, numbers and strings; "
                f"use a checkpoint written by `spectrogen train`", path) from None
        raise CheckpointError("not a checkpoint spectrogen can read safely (it holds Python objects other "
                              "than tensors, numbers and strings, or is not a PyTorch file)", path) from None
    except (RuntimeError, EOFError) as exc:
        reason = (str(exc).splitlines() or ["unexpected end of file"])[0][:120]
        raise CheckpointError(
            f"truncated or corrupt ({reason}); a copy "
            f"was cut short or a crash happened while writing it: use another checkpoint of the run, "
            f"e.g. an earlier checkpoints/checkpoint_epoch_N.tar", path) from None
    except OSError as exc:
        raise CheckpointError(f"cannot read: {exc.strerror or exc}", path) from None
    except Exception:  # noqa: BLE001 - torch raises KeyError/ValueError/... for arbitrary bytes
        raise CheckpointError("not a PyTorch checkpoint file (unreadable as one)", path) from None


def load_checkpoint(path: Path | str, *, model: Optional[str] = None, mmap: bool = False) -> dict[str, Any]:
    """Returns the validated checkpoint mapping of `path` (tensors on the CPU), older formats upgraded; raises
    CheckpointError for a foreign, truncated or code-carrying file, or one of another `model` family."""
    path = Path(path)
    checkpoint = _read(path, mmap=mmap)
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise CheckpointError(f"not a spectrogen checkpoint (no \"format\": \"{FORMAT}\" entry); "
                              f"give a .tar file from a run's checkpoints/ folder", path)
    version = checkpoint.get("format_version")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise CheckpointError(f"checkpoint format version {version!r} is not one this spectrogen ({__version__}) "
                              f"reads (1 to {FORMAT_VERSION}); a newer one needs a newer spectrogen: upgrade "
                              f"spectrogen", path)
    for key in ("model", "config", "data", "method", "trainer"):
        if key not in checkpoint:
            raise CheckpointError(f"incomplete checkpoint: the {key!r} entry is missing", path)
    if model is not None and checkpoint["model"] != model:
        raise CheckpointError(f"this checkpoint holds a {checkpoint['model']} model, not {model}; "
                              f"use a checkpoint of a {model} run or set model.name={checkpoint['model']}", path)
    # what an older format left implicit is written out, so that it loads as it trained
    model_section = checkpoint["config"].get("model") if isinstance(checkpoint["config"], dict) else None
    if version < 2 and isinstance(model_section, dict) and checkpoint["model"] in GAN_FAMILIES:
        model_section.setdefault("upsample", "transposed")
    return checkpoint


def progress_of(checkpoint: Mapping[str, Any]) -> tuple[int, int]:
    """Returns (completed epochs, steps into the next epoch) that a checkpoint records."""
    trainer = checkpoint["trainer"]
    return int(trainer.get("epoch", 0)), int(trainer.get("step_in_epoch", 0))


def find_resume_checkpoint(target: Path | str) -> Path:
    """Returns the checkpoint a resume of `target` (a run directory or a .tar file) starts from: in a run
    directory the newest rolling one or final_model.tar, whichever records more progress (an interrupted run's
    final_model.tar is ahead); best_model.tar only when nothing else is there."""
    target = Path(target)
    if target.is_file():
        return target
    folder = target / "checkpoints"
    if not target.is_dir():
        raise CheckpointError("no such run directory or checkpoint file", target)
    candidates = rolling_checkpoints(folder)[-1:] + [p for p in (folder / "final_model.tar",) if p.is_file()]
    if not candidates and (folder / "best_model.tar").is_file():
        candidates = [folder / "best_model.tar"]
    if not candidates:
        raise CheckpointError("no checkpoint to resume from in checkpoints/ (the run stopped before its "
                              "first checkpoint); start it again with --overwrite", target)
    if len(candidates) == 1:
        return candidates[0]
    # mmap keeps this cheap: only the small trainer entry is really read
    return max(candidates, key=lambda p: progress_of(load_checkpoint(p, mmap=True)))


@dataclass
class BestTracker:
    """Decides when the current state becomes best_model.tar: the lowest `evaluation.best_metric` computed during
    training (criterion "metric"), else the lowest method `best_statistic` ("statistic"), else the latest
    checkpoint ("latest"): GAN losses say little about sample quality, so none is claimed best."""

    criterion: str
    key: str = ""
    value: Optional[float] = None
    epoch: Optional[int] = None
    due: bool = False

    @classmethod
    def choose(cls, *, metric: Optional[str], statistic: Optional[str]) -> "BestTracker":
        """Returns the tracker of the first available criterion (metric, then statistic, then latest)."""
        if metric:
            return cls("metric", metric)
        return cls("statistic", statistic) if statistic else cls("latest")

    def describe(self) -> str:
        if self.criterion == "latest":
            return "best_model.tar is the latest checkpoint (no quality metric is computed during training)"
        source = "evaluation metric" if self.criterion == "metric" else "epoch statistic"
        return f"best_model.tar is the checkpoint with the lowest {source} {self.key}"

    def offer(self, epoch: int, values: Mapping[str, Any], *, from_metrics: bool) -> bool:
        """Takes an epoch's statistics (or metrics); returns True (and marks `due`) when they are the new best."""
        value = values.get(self.key)
        better = (self.criterion != "latest" and from_metrics == (self.criterion == "metric")
                  and isinstance(value, (int, float)) and math.isfinite(value)
                  and (self.value is None or value < self.value))
        if better:
            self.value, self.epoch, self.due = float(value), epoch, True
        return better

    def checkpoint_written(self, epoch: int) -> None:
        """Notes a rolling checkpoint: under the `latest` criterion it is the best one."""
        if self.criterion == "latest":
            self.epoch, self.due = epoch, True

    def state_dict(self) -> dict[str, Any]:
        return {"criterion": self.criterion, "key": self.key, "value": self.value, "epoch": self.epoch}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state.get("criterion") == self.criterion and state.get("key", "") == self.key:
            self.value = state.get("value")
            self.epoch = state.get("epoch")
