"""How the generator doubles its size, on real recordings: transposed convolutions against resize + convolution.

    python benchmarks/upsampling.py train [--sets drums words] [--modes transposed nearest bilinear] [--minutes 4]
    python benchmarks/upsampling.py score [--work DIR]

`train`: per real set (drums: Hydrogen's kits, `apt-get install hydrogen-data`; words: espeak-ng digits;
built by benchmarks/oneshots/build.py) and per `model.upsample`, the command a new user runs,
`spectrogen train --config test --model MODEL --data DATA --image-size 64`, stopped after the same
number of minutes (equal training time). `score`: `spectrogen evaluate` of 256 samples of each run
against its data set (the classifier-free figures: artifact ratio, per-frequency level and spread in dB,
silent frames, tonal lines; and the feature network's IS, precision, recall), a table in WORK/results.md,
and WORK/grid_SET.png: real examples in the first row, one row per mode.

Runs one training at a time: the figures compare runs at equal time, so nothing else should run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SETS = ("drums", "words")
MODES = ("transposed", "nearest", "bilinear")
SIZE = 64
EVALUATION_SAMPLES = 256
COLUMNS = ("artifact_ratio", "level_db_distance", "spread_db_distance", "silent_frames", "silent_mid",
           "tonal_ratio", "is_ratio", "precision", "recall")


def spectrogen(*args: str) -> list[str]:
    return [sys.executable, "-m", "spectrogen", *map(str, args)]


def call(command: list[str], log: Path) -> None:
    """Runs `command` with its output in `log`; stops the benchmark when it fails."""
    print("$ " + " ".join(command), flush=True)
    with open(log, "w") as handle:
        if subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT).returncode:
            raise SystemExit(f"failed: {' '.join(command)}; see {log}")


def data_set(work: Path, name: str) -> Path:
    """Returns the prepared data set `name` in `work`, building and preparing it first when missing."""
    recordings, data = work / "recordings" / name, work / "data" / name
    if not recordings.is_dir():
        call([sys.executable, str(HERE / "oneshots" / "build.py"), name, str(recordings)], work / f"build_{name}.log")
    if not data.is_dir():
        call(spectrogen("prepare", recordings, "--out", data, "--image-size", SIZE, "--quiet"),
             work / f"prepare_{name}.log")
    return data


def train(work: Path, sets, modes, minutes: float, model: str) -> None:
    for name in sets:
        data = data_set(work, name)
        for mode in modes:
            run = work / "runs" / f"{name}_{model}_{mode}"
            if (run / "checkpoints" / "final_model.tar").is_file():
                continue
            call(spectrogen("train", "--config", "test", "--model", model, "--data", data, "--image-size", SIZE,
                            "--output-dir", run, "--overwrite", "--quiet", "--epochs", 10000,
                            "--set", f"model.upsample={mode}", "--set", f"training.max_minutes={minutes}"),
                 work / f"train_{name}_{model}_{mode}.log")


def score(work: Path) -> None:
    from spectrogen.training.checkpoint import load_checkpoint

    rows = []
    for run in sorted((work / "runs").glob("*_*_*")):
        name, model, mode = run.name.split("_")
        out = work / "evaluation" / run.name
        classifier = work / f"classifier_{name}.pt"  # one feature network per set: its figures compare
        if not classifier.is_file():
            call(spectrogen("evaluate", "--train-classifier", work / "data" / name, "--out", classifier),
                 work / f"classifier_{name}.log")
        if not (out / "metrics.json").is_file():
            call(spectrogen("evaluate", run, "--data", work / "data" / name, "--n", EVALUATION_SAMPLES,
                            "--classifier", classifier, "--out", out, "--overwrite"), work / f"evaluate_{run.name}.log")
        metrics = json.loads((out / "metrics.json").read_text())["metrics"]
        if metrics.get("is_real"):
            metrics["is_ratio"] = metrics["is"] / metrics["is_real"]
        steps = load_checkpoint(run / "checkpoints" / "final_model.tar", mmap=True)["trainer"]["global_step"]
        rows.append((name, model, mode, steps, metrics))
    lines = ["| set | model | upsample | steps | " + " | ".join(COLUMNS) + " |",
             "|---|---|---|---|" + "---|" * len(COLUMNS)]
    for name, model, mode, steps, metrics in rows:
        cells = [f"{metrics[c]:.2f}" if isinstance(metrics.get(c), (int, float)) else "-" for c in COLUMNS]
        lines.append(f"| {name} | {model} | {mode} | {steps or '-'} | " + " | ".join(cells) + " |")
    reals = {name: (metrics.get("artifact_ratio_real"), metrics.get("silent_frames_real"),
                      metrics.get("silent_mid_real"), metrics.get("tonal_db_real")) for name, _, _, _, metrics in rows}
    lines.append("")
    for name, (artifact, silent, mid, tonal) in reals.items():
        lines.append(f"real {name}: artifact ratio {artifact:.2f}, silent frames {silent:.2f}, silent mid-clip "
                     f"{mid:.2f}, tonal {tonal:.2f} dB")
    text = "\n".join(lines)
    print(text)
    (work / "results.md").write_text(text + "\n")
    for name in {row[0] for row in rows}:
        draw_grid(work, name, [row for row in rows if row[0] == name])


def draw_grid(work: Path, name: str, rows) -> None:
    """Draws real examples and each run's samples, one row each, at the same scale, to WORK/grid_NAME.png."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from spectrogen.data.dataset import SpectrogramDataset
    from spectrogen.sampling.generate import generate
    from spectrogen.sampling.load import load_generator

    shown = 8
    dataset = SpectrogramDataset.open(work / "data" / name)
    rng = np.random.default_rng(0)
    real = np.asarray(dataset.features[np.sort(rng.choice(len(dataset), shown, replace=False))])
    panels = [("real", real)]
    for _, model, mode, _, _ in rows:
        loaded = load_generator(work / "runs" / f"{name}_{model}_{mode}" / "checkpoints" / "final_model.tar")
        samples = generate(loaded, shown, seed=0)  # (n, 1, H, W), normalised
        panels.append((f"{model} {mode}", loaded.normalizer.inverse(samples[:, 0]).numpy()))
    low, high = np.percentile(real, 1), np.percentile(real, 99.5)
    figure, axes = plt.subplots(len(panels), shown, figsize=(1.6 * shown, 1.7 * len(panels)), squeeze=False)
    for row, (title, images) in enumerate(panels):
        for column in range(shown):
            axis = axes[row][column]
            axis.imshow(images[column], origin="lower", aspect="auto", vmin=low, vmax=high, cmap="magma")
            axis.set_xticks([]), axis.set_yticks([])
        axes[row][0].set_ylabel(title, fontsize=8)
    figure.tight_layout()
    figure.savefig(work / f"grid_{name}.png", dpi=80)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("step", choices=["train", "score"])
    parser.add_argument("--work", type=Path, default=Path("/tmp/upsampling"))
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--model", default="specgan", choices=["specgan", "dcgan"])
    parser.add_argument("--minutes", type=float, default=4.0)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.step == "train":
        train(args.work, args.sets, args.modes, args.minutes, args.model)
    else:
        score(args.work)


if __name__ == "__main__":
    main()
