"""Inputs of the reliability tests and checks of a run directory."""

import csv
import json
import warnings
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from spectrogen.cli.main import main
from spectrogen.training.checkpoint import load_checkpoint

from common import assert_refused, run_cli, tree_digest

# a DCGAN small enough for a few steps per second on a busy CPU core
TINY_GAN = ["--model", "dcgan", "--image-size", "32", "--features-g", "8", "--features-d", "8",
            "--device", "cpu", "--quiet", "--set", "model.latent_dim=16", "--set", "output.report=false",
            "--set", "output.num_samples=4", "--set", "output.plot_every=1000"]


def new_folder(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


def write_files(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def write_npy_sources(folder: Path, count: int = 24, shape: tuple[int, int] = (32, 32), seed: int = 0) -> Path:
    """Writes `count` examples (F, T) of striped noise into three .npy files in `folder`; returns it."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    examples = rng.normal(0.0, 0.3, (count, *shape)).astype(np.float32)
    examples[:, ::4, :] += 2.0  # some structure along frequency
    for index, part in enumerate(np.array_split(examples, 3)):
        np.save(folder / f"part_{index}.npy", part)
    return folder


def prepare_quietly(source: Path, out: Path, *extra: str) -> Path:
    assert main(["prepare", str(source), "--out", str(out), "--quiet", *extra]) == 0, f"prepare {source} failed"
    return out


def make_npy_dataset(root: Path) -> Path:
    """Returns a prepared data set root/data (24 examples of 32 x 32) made from root/npy_source."""
    return prepare_quietly(write_npy_sources(root / "npy_source"), root / "data")


def feature_network(path: Path) -> Path:
    """Writes a small TorchScript feature network for 32 x 32 spectrograms (`evaluate --inception`)."""
    torch.manual_seed(0)
    network = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(32 * 32, 6), torch.nn.Tanh())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is what --inception reads
        torch.jit.script(network).save(str(path))
    return path


def train_args(data: Path, out: Path, *extra, epochs: int = 1, steps: Optional[int] = None) -> list:
    """Returns the `spectrogen train` arguments of a tiny DCGAN run on `data` into `out` (`steps` per epoch)."""
    limit = [] if steps is None else ["--set", f"training.max_steps_per_epoch={steps}"]
    return ["train", "--config", "test", "--data", str(data), "--output-dir", str(out), "--epochs", str(epochs),
            "--batch-size", "4", *TINY_GAN, *limit, *extra]


def assert_each_refused(cases, capsys, record_property, prefix: Sequence = (), suffix: Sequence = ()) -> None:
    """Checks that `spectrogen PREFIX ARGUMENTS SUFFIX` is refused naming each text, for each (ARGUMENTS, texts)."""
    record_property("cases", len(cases))  # the battery counts each case
    for arguments, expected in cases:
        code, _, err = run_cli([*prefix, *arguments, *suffix], capsys)
        assert_refused(code, err, *expected)


def prepare_and_read_summary(source: Path, out: Path, capsys, *extra) -> tuple[dict, str]:
    """Returns (summary.json, printed summary) of a `prepare` that must succeed and only read `source`."""
    before = tree_digest(source)
    code, printed, err = run_cli(["prepare", source, "--out", out, *extra], capsys)
    assert code == 0 and "Traceback" not in err, err
    assert tree_digest(source) == before
    return json.loads((out / "summary.json").read_text()), printed


def assert_skipped(summary: dict, printed: str, expected: dict[str, str]) -> None:
    """Checks that exactly the `expected` {file: reason} were skipped, each listed in the printed summary."""
    skipped = {entry["file"]: entry["reason"] for entry in summary["skipped"]}
    assert set(skipped) == set(expected), skipped
    for name, reason in expected.items():
        assert reason in skipped[name], (name, skipped[name])
        assert f"{name}: {skipped[name]}" in printed


# --- the state of a run directory ------------------------------------------------------------------
def csv_table(path: Path) -> tuple[list[str], list[list[str]]]:
    """Returns (header, rows) of a statistics CSV after checking that it holds only whole rows."""
    text = path.read_text(encoding="utf-8")
    assert text == "" or text.endswith("\n"), f"{path} ends in a partial line"
    records = list(csv.reader(text.splitlines()))
    if not records:
        return [], []
    header, rows = records[0], records[1:]
    for number, row in enumerate(rows, start=2):
        assert len(row) == len(header), f"{path} line {number} has {len(row)} cells, the header {len(header)}"
    return header, rows


def epoch_numbers(run: Path) -> list[int]:
    """Returns the `epoch` column of the run's epoch_statistics.csv (checked for whole rows)."""
    path = run / "epochs_statistics" / "epoch_statistics.csv"
    if not path.exists():
        return []
    header, rows = csv_table(path)
    return [int(row[header.index("epoch")]) for row in rows]


def check_run_files(run: Path) -> list[Path]:
    """Checks that every finished file of `run` is whole; returns the temporary files (*.tmp) a crash left."""
    leftovers = []
    for path in sorted(p for p in run.rglob("*") if p.is_file()):
        if path.name.endswith(".tmp"):
            leftovers.append(path)
        elif path.suffix == ".tar":
            load_checkpoint(path)  # raises CheckpointError for a truncated or corrupt file
        elif path.suffix == ".csv":
            csv_table(path)
        elif path.suffix == ".npy":
            assert np.isfinite(np.load(path, allow_pickle=False)).all(), path
        elif path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
    numbers = epoch_numbers(run)
    assert numbers == list(range(1, len(numbers) + 1)), f"epoch rows {numbers} are not 1..N once each"
    return leftovers
