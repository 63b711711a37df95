"""Inputs and checks that several test folders use: tones, data sets, digests, the CLI in this process."""

import hashlib
import io
import os
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pytest
import soundfile
import torch

from spectrogen.cli.main import main
from spectrogen.config import build_config, config_to_dict
from spectrogen.data.info import DataInfo
from spectrogen.data.writer import write_examples
from spectrogen.models.registry import build_method
from spectrogen.training.checkpoint import build_checkpoint, load_checkpoint, save_checkpoint
from spectrogen.training.csv_log import CsvLog

TINY_DIFFUSION = {"base_channels": 8, "channel_multipliers": [1, 2], "attention": False, "timesteps": 20,
                  "sampling_steps": 4}


def tone(frequency: float = 440.0, seconds: float = 1.1, sample_rate: int = 16000, amplitude: float = 0.5,
         channels: int = 1) -> np.ndarray:
    """Returns a sine tone, (S,) or (S, channels) float32; channel k has amplitude scaled by 1/(k+1)."""
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    mono = (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)
    return mono if channels == 1 else np.stack([mono / (k + 1) for k in range(channels)], axis=1)


def write_tone(path: Path, frequency: float = 440.0, seconds: float = 1.1, sample_rate: int = 16000, *,
               subtype: Optional[str] = None, **kwargs) -> Path:
    """Writes a tone (format from the suffix) and returns its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), tone(frequency, seconds, sample_rate, **kwargs), sample_rate, subtype=subtype)
    return path


def write_tones(folder: Path, count: int = 4) -> Path:
    """Writes `count` tones of 1.1 s at 16 kHz into `folder`; returns it."""
    for index in range(count):
        write_tone(folder / f"tone_{index}.wav", 300.0 + 200.0 * index)
    return folder


def write_dataset(folder: Path, features: np.ndarray, labels: Optional[np.ndarray] = None,
                  class_names: Optional[Sequence[str]] = None) -> Path:
    """Writes features (N, F, T) as a prepared data set of kind "image" in `folder`; returns it."""
    write_examples(folder, features, labels, list(class_names or []), source="synthetic")
    return folder


def epoch_rows(run: Path) -> list[dict]:
    return CsvLog(run / "epochs_statistics" / "epoch_statistics.csv").rows()


def iteration_rows(run: Path, epoch: int) -> list[dict]:
    return CsvLog(run / "single_epochs_statistics" / f"epoch_{epoch}" / f"epoch_{epoch}_iterations.csv").rows()


def assert_same_run(run: Path, reference: Path, keys: Sequence[str], rel: float, abs_tol: float = 1e-12) -> None:
    """Checks that two runs logged the same epochs with the same `keys` (within `rel`, `abs_tol`) and that their
    final_model.tar hold the same network weights (within `rel`, `rel` / 10)."""
    ours, theirs = epoch_rows(run), epoch_rows(reference)
    assert [row["epoch"] for row in ours] == [row["epoch"] for row in theirs]  # no duplicate rows
    for mine, other in zip(ours, theirs):
        for key in keys:
            assert mine[key] == pytest.approx(other[key], rel=rel, abs=abs_tol), (mine["epoch"], key)
    ours, theirs = (load_checkpoint(path / "checkpoints" / "final_model.tar")["method"]["networks"]
                    for path in (run, reference))
    for network, tensors in theirs.items():
        for name, tensor in tensors.items():
            torch.testing.assert_close(ours[network][name], tensor, rtol=rel, atol=rel / 10, msg=f"{network}.{name}")


def tree_digest(root: Path) -> dict[str, str]:
    """Returns every entry below `root` (files, folders, links) with its content hash, mode and mtime."""
    digest = {}
    for path in sorted(Path(root).rglob("*")):
        info, key = path.lstat(), path.relative_to(root).as_posix()
        if path.is_symlink():
            digest[key] = f"link -> {os.readlink(path)}"
        elif path.is_file():
            try:
                content = hashlib.sha256(path.read_bytes()).hexdigest()
            except PermissionError:
                content = "unreadable"
            digest[key] = f"{content} {info.st_mode:o} {info.st_mtime_ns}"
        else:
            digest[key] = f"{info.st_mode:o}"
    return digest


def run_cli(argv: Sequence, capsys, ok: bool = False) -> tuple[int, str, str]:
    """Returns (exit code, stdout, stderr) of `spectrogen ARGV` in this process; with `ok`, checked to be 0."""
    capsys.readouterr()
    try:
        code = main([str(arg) for arg in argv])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 2
    captured = capsys.readouterr()
    assert not ok or code == 0, captured.err
    return code, captured.out, captured.err


def assert_refused(code: int, err: str, *expected, exit_code: int = 2, one_line: bool = True,
                   alone: bool = False) -> None:
    """Checks a refusal: the exit code, one `error:` line (all of stderr when `alone`), no traceback, `expected`."""
    assert code == exit_code and "Traceback" not in err, err
    errors = [line for line in err.splitlines() if ": error: " in line]
    assert not one_line or len(errors) == 1, err
    assert not alone or err.strip() == errors[0], err
    for text in expected:
        assert str(text) in err, f"{text!r} not in {err!r}"


class RunsCode:
    """Unpickling this object creates `target`: what a malicious checkpoint or array would do."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return (open, (self.target, "w"))


def quick_figures(setattr) -> None:
    """Makes training write empty files in place of its figures (drawing them is most of a tiny run's time), by
    the same process at the same point, so that a rank other than 0 that wrote figures would still be caught."""
    from spectrogen.training import plots, trainer

    def empty_files(self):
        self.run.plots_dir.mkdir(parents=True, exist_ok=True)
        for name in plots.PLOT_NAMES:
            (self.run.plots_dir / name).write_bytes(b"")

    setattr(trainer.Trainer, "_write_plots", empty_files)


def patterns(size: int) -> torch.Tensor:
    """Returns four distinct (4, 1, size, size) images in {-1, 1}: top half, left half, a diagonal, checks."""
    y, x = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    square = size // 4
    stack = torch.stack([y < size // 2, x < size // 2, x > y, (x // square + y // square) % 2 == 0])
    return stack.float()[:, None] * 2 - 1


def nearest(samples: torch.Tensor, data: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns (RMS-per-pixel distance to the nearest data example, its index) of each sample."""
    distances = torch.cdist(samples.flatten(1), data.flatten(1)) / data[0].numel() ** 0.5
    return distances.min(dim=1)


def waking(net: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Returns `net` in eval mode with random weights in its zero-initialised convolutions (so that every
    input matters: a zero output layer would make a sampler return its noise scaled)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.Conv2d) and not module.weight.abs().sum():
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * 0.05)
    return net.eval()


def cpu_method(name: str, shape: Sequence[int], classes: Sequence[str] = (), seed: int = 0,
               training: Optional[dict] = None, **model):
    """Returns the `name` method of these model and `training` settings on the CPU, its initialisation seeded."""
    torch.manual_seed(seed)
    config = build_config({"model": {"name": name, **model}, "training": training or {}})
    return build_method(config, DataInfo(tuple(shape), list(classes)), "cpu")


def save_as_trained(method, path: Path, normalizer: Optional[dict] = None,
                    representation: Optional[dict] = None) -> Path:
    """Returns `path` after saving `method` there as training saves a checkpoint."""
    data = {"shape": list(method.info.shape), "class_names": list(method.info.class_names), "normalizer": normalizer,
            "representation": representation}
    trainer = {"epoch": 1, "global_step": 1, "rng": {}, "best": {}}
    return save_checkpoint(build_checkpoint(model=method.name, config=config_to_dict(method.config), data=data,
                                            method=method.state_dict(), trainer=trainer), path)


def saved_and_loaded(state: dict) -> dict:
    """Returns `state` after torch.save and a weights_only torch.load, as a checkpoint gives it back."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return torch.load(io.BytesIO(buffer.getvalue()), weights_only=True)
