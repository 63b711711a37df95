"""Real one-shots, from the recordings to the table: files used, examples and class accuracy per class.

    python benchmarks/oneshots/run.py [--set drums|words] [--work DIR] [--runs defaults paper ...] [--minutes M]

1. builds the set with `build.py` (drums: Hydrogen's kits, `apt-get install hydrogen-data`; words:
   espeak-ng), unless WORK/recordings exists;
2. prepares it twice, as `spectrogen prepare` does by default (one-shots: one example per file from
   its onset) and with `--slicing windows` (windows of the recordings, the only way before), and
   counts files used and examples per class of each;
3. trains a feature network on the real classes at the models' 64x64 (`evaluate --train-classifier`;
   its held-out accuracy is printed: the class accuracies below mean what it means);
4. per run, `spectrogen train --model cgan --data DATA --image-size 64 --features-g 32 --features-d 32`
   plus the run's flags (`defaults`: none; `paper`: the paper's WGAN-GP 5:1 with the label-map
   critic and batches as the data come; ablations drop one part of the defaults), then
   `spectrogen evaluate` with that feature network on 64 samples per class: class accuracy overall
   and per class, per-class FID, IS over the real data's, precision and recall;
5. draws WORK/grid_RUN.png: per class, real examples beside generated ones of that class.

The table goes to the console and WORK/results.md. Runs take the time their settings plan (about
10 minutes each on 2 CPU cores); `--minutes M` stops each after M minutes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "quality"))
from run import run, spectrogen  # noqa: E402

SIZE = 64
MODEL = ["--model", "cgan", "--image-size", str(SIZE), "--features-g", "32", "--features-d", "32"]
RUNS = {
    "defaults": [],
    "paper": ["--set", "training.recipe=paper", "--set", "data.class_balanced=false",
              "--set", "model.conditional.discriminator_input=label_map"],
    "no-balance": ["--set", "data.class_balanced=false"],
    "label-map": ["--set", "model.conditional.discriminator_input=label_map",
                  "--set", "model.conditional.auxiliary_classifier=0"],
    "no-aux": ["--set", "model.conditional.auxiliary_classifier=0"],
}
PER_CLASS = 64  # generated samples per class that are scored
SHOWN = 6  # real and generated examples per class in the picture


def prepared_counts(data: Path) -> dict:
    """Returns files used, examples per class and the slicing of a prepared data set (its summary.json)."""
    summary = json.loads((data / "summary.json").read_text())
    return {"files_used": summary["files_used"], "files_found": summary["files_found"],
            "files": summary.get("files_per_class", {}), "examples": summary["examples_per_class"],
            "slicing": summary.get("slicing", "")}


def prepare_both(work: Path) -> dict:
    """Prepares WORK/recordings by default and with --slicing windows; returns their counts."""
    counts = {}
    for name, extra in (("data", []), ("data_windows", ["--slicing", "windows"])):
        if not (work / name / "dataset.json").is_file():
            run(spectrogen("prepare", str(work / "recordings"), "--out", str(work / name), "--kind", "audio", *extra),
                work / f"prepare_{name}.log")
        counts[name] = prepared_counts(work / name)
    return counts


def classifier(work: Path) -> tuple[Path, str]:
    """Returns the feature network trained on the real classes at SIZE x SIZE, and its one-line description."""
    path, log = work / f"classifier_{SIZE}.pt", work / f"classifier_{SIZE}.log"
    if not path.is_file():
        run(spectrogen("evaluate", "--train-classifier", str(work / "data"), "--size", f"{SIZE}x{SIZE}", "--epochs", "20",
                       "--out", str(path)), log)
    return path, log.read_text().strip().splitlines()[-1]


def train_and_score(work: Path, name: str, minutes: float | None, network: Path, classes: int) -> dict:
    """Trains run `name` (unless done), scores it with `network`; returns its figures and wall time."""
    folder = work / "runs" / name
    seconds = None
    if not (folder / "checkpoints" / "final_model.tar").is_file():
        limit = ["--set", f"training.max_minutes={minutes}"] if minutes else []
        started = time.perf_counter()
        run(spectrogen("train", "--data", str(work / "data"), "--output-dir", str(folder), "--overwrite", "--quiet",
                       *MODEL, *RUNS[name], *limit), work / f"train_{name}.log")
        seconds = time.perf_counter() - started
    out = folder / "evaluation_oneshots"
    run(spectrogen("evaluate", str(folder / "checkpoints" / "final_model.tar"), "--data", str(work / "data"),
                   "--classifier", str(network), "--n", str(PER_CLASS * classes), "--metrics", "fid,is,pr",
                   "--out", str(out), "--overwrite"), work / f"evaluate_{name}.log")
    result = json.loads((out / "metrics.json").read_text())
    statistics = (folder / "epochs_statistics" / "epoch_statistics.csv").read_text().strip().splitlines()
    return {"metrics": result["metrics"], "per_class": result["per_class"], "seconds": seconds,
            "epochs": len(statistics) - 1}


def grid(work: Path, name: str, class_names: list[str]) -> Path:
    """Draws WORK/grid_NAME.png: per class a row of real examples, then generated ones of that class."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from spectrogen.data.dataset import SpectrogramDataset
    from spectrogen.metrics.inputs import dataset_normalizer, normalised_examples

    samples = work / "runs" / name / "grid_samples"
    if not (samples / "samples.npy").is_file():
        run(spectrogen("sample", str(work / "runs" / name / "checkpoints" / "final_model.tar"), "--n",
                       str(SHOWN * len(class_names)), "--out", str(samples), "--seed", "0", "--overwrite"),
            work / f"sample_{name}.log")
    generated = np.load(samples / "samples.npy")  # (K * SHOWN, 1, H, W), classes in blocks
    dataset = SpectrogramDataset.open(work / "data")
    normalizer = dataset_normalizer(dataset)
    labels = np.asarray(dataset.labels)
    rng = np.random.default_rng(0)
    figure, axes = plt.subplots(len(class_names), 2 * SHOWN, figsize=(2 * SHOWN * 1.1, len(class_names) * 1.2))
    for k, class_name in enumerate(class_names):
        chosen = np.sort(rng.choice(np.flatnonzero(labels == k), SHOWN, replace=False))
        real = normalised_examples(dataset, chosen, normalizer, (SIZE, SIZE))
        row = [*real[:, 0], *generated[k * SHOWN:(k + 1) * SHOWN, 0]]
        for column, image in enumerate(row):
            axis = axes[k, column]
            axis.imshow(image, origin="lower", aspect="auto", cmap="magma", vmin=-1, vmax=1)
            axis.set_xticks([])
            axis.set_yticks([])
            if column == 0:
                axis.set_ylabel(class_name, fontsize=8)
        axes[0, 0].set_title("real", fontsize=8, loc="left")
        axes[0, SHOWN].set_title(f"generated ({name})", fontsize=8, loc="left")
    figure.tight_layout()
    path = work / f"grid_{name}.png"
    figure.savefig(path, dpi=80)
    plt.close(figure)
    return path


def table(counts: dict, network: str, results: dict, class_names: list[str]) -> str:
    """Returns the Markdown tables of the preparation and of the runs."""
    lines = [f"feature network: {network}", "",
             "| prepare | files used | " + " | ".join(class_names) + " |",
             "|---|---|" + "---|" * len(class_names)]
    for name, title in (("data_windows", "--slicing windows (before)"), ("data", "default (one-shots)")):
        entry = counts[name]
        cells = [f"{entry['files'].get(c, '-')} / {entry['examples'].get(c, 0)}" for c in class_names]
        lines.append(f"| {title} | {entry['files_used']} of {entry['files_found']} | " + " | ".join(cells) + " |")
    lines += ["", "(cells: files used / examples of the class)", "",
              "| run | minutes | epochs | class accuracy | " + " | ".join(class_names) +
              " | IS ratio | precision | recall |",
              "|---|---|---|---|" + "---|" * len(class_names) + "---|---|---|"]
    for name, result in results.items():
        metrics, per_class = result["metrics"], result["per_class"]
        cells = [f"{per_class.get(c, {}).get('accuracy', float('nan')):.2f} (FID {per_class.get(c, {}).get('fid', float('nan')):.0f})"
                 for c in class_names]
        minutes = "-" if result["seconds"] is None else f"{result['seconds'] / 60:.1f}"
        lines.append(f"| {name} | {minutes} | {result['epochs']} | {metrics.get('class_accuracy', float('nan')):.2f} | "
                     + " | ".join(cells) + f" | {metrics['is'] / metrics['is_real']:.2f} | "
                     f"{metrics['precision']:.2f} | {metrics['recall']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", dest="which", choices=["drums", "words"], default="drums")
    parser.add_argument("--work", type=Path, default=None, help="folder for recordings, data and runs "
                                                                "(default oneshots_SET)")
    parser.add_argument("--runs", nargs="+", default=["defaults", "paper"], choices=list(RUNS))
    parser.add_argument("--minutes", type=float, default=None, help="stop each training run after M minutes")
    args = parser.parse_args(argv)
    work = args.work or Path(f"oneshots_{args.which}")
    work.mkdir(parents=True, exist_ok=True)
    if not (work / "recordings").is_dir():
        subprocess.run([sys.executable, str(HERE / "build.py"), args.which, str(work / "recordings")], check=True)
    counts = prepare_both(work)
    class_names = list(counts["data"]["examples"])
    network, description = classifier(work)
    results = {}
    for name in args.runs:
        results[name] = train_and_score(work, name, args.minutes, network, len(class_names))
        print(f"{name}: class accuracy {results[name]['metrics'].get('class_accuracy', float('nan')):.2f}; "
              f"picture {grid(work, name, class_names)}", flush=True)
    text = table(counts, description, results, class_names)
    (work / "results.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
