"""Quality benchmark: SpecGAN, DCGAN and the conditional GAN on spoken digits, scored as the SpecGAN paper did.

One command rebuilds everything offline, with fixed seeds:

  1. speech: `spoken_digits.py` makes 1-s clips of "zero".."nine" with espeak-ng (split by voice)
  2. data:   `spectrogen prepare` with the specgan representation (16 kHz, 128x128 log STFT),
             the train and the test voices separately
  3. judge:  `spectrogen evaluate --train-classifier` on the training voices at the models' size;
             its accuracy on the held-out voices is reported
  4. train:  each model for the same wall-clock budget (`training.max_minutes`)
  5. score:  `spectrogen evaluate` for real-train, real-test and each model: Inception score
             (10 splits, mean +- std), FID and KID in the classifier's feature space, NDB/JSD,
             and for the conditional model the classifier's accuracy per requested class

Writes OUT/results.md (the table), OUT/results.json, the configurations (OUT/configs/) and every
run (OUT/runs/). Steps whose outputs exist are not redone, so a stopped benchmark continues;
--fresh-runs retrains the models.

  python benchmarks/quality/run.py                       # CPU: 64x64, reduced width, 30 min per model
  python benchmarks/quality/run.py --minutes 10 --parallel   # all three at once, one thread each
  python benchmarks/quality/run.py --full --device cuda  # the paper's 128x128, width 64, on a GPU
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import spoken_digits  # noqa: E402  (the data set builder beside this file)
from spectrogen.training.small_data import CONDITIONAL_RECIPE, SMALL_GAN_RECIPE  # noqa: E402

MODELS = ("specgan", "dcgan", "cgan")
# Variants tried against the paper's settings at the CPU budget: a model is named BASE or
# BASE+VARIANT (+VARIANT...), e.g. specgan+ema or specgan+hinge+ema; see benchmarks/README.md.
VARIANTS = {
    "ema": {"training.ema_decay": 0.999},  # sample from an exponential moving average of G
    "hinge": {"training.loss": "hinge", "training.critic_steps": 1, "training.learning_rate": 2e-4},
    "fast": {"training.learning_rate": 2e-4, "training.beta1": 0.0, "training.beta2": 0.9},  # WGAN-GP, later practice
    "c2": {"training.critic_steps": 2},
    "w32": {"model.features_g": 32, "model.features_d": 32},
    "aug": {"training.diffaugment": ["translation", "cutout"]},
    "bn": {"model.batchnorm": True},  # batch norm in G and D (after D's first layer), as DCGAN; not for WGAN-GP
}
PAPER = {"real_train_is": 9.18, "specgan_is": 6.03, "wavegan_is": 4.67}


def model_settings(model: str, full: bool, width: int, batch: int) -> dict:
    """Returns the configuration overrides of one benchmarked model (the rest is the `default` preset)."""
    name, *variants = model.split("+")
    size = 128 if full else 64
    settings = {
        "model.name": name, "model.image_size": size, "model.features_g": width, "model.features_d": width,
        "training.batch_size": batch, "training.epochs": 100000,
        "output.sample_every": 10, "output.plot_every": 50, "output.checkpoint_every": 10, "output.num_samples": 64,
        "evaluation.eval_every": 0,
    }
    if name == "cgan":
        # SpecGAN's architecture; the class as a one-hot input to G, projection in D; at the CPU
        # budget (not --full) the fast recipe `train` chooses on a CPU (training/small_data.py): with
        # the paper's WGAN-GP 5:1 it reached IS 0.29 of the real data's and class accuracy 0.13
        settings.update({"model.conditional.base": "specgan", "model.conditional.discriminator_input": "projection"})
        if not full:
            settings.update({**SMALL_GAN_RECIPE, **CONDITIONAL_RECIPE})
    for variant in variants:
        settings.update(VARIANTS[variant])
    return settings


def run(command: list[str], log: Path | None = None, env: dict | None = None) -> None:
    """Runs a spectrogen command, its output to `log` when given; stops the benchmark when it fails."""
    print("$ " + " ".join(command), flush=True)
    if log is None:
        result = subprocess.run(command, env=env)
    else:
        with open(log, "w") as handle:
            result = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, env=env)
    if result.returncode != 0:
        raise SystemExit(f"failed (exit {result.returncode}): {' '.join(command)}" + (f"; see {log}" if log else ""))


def spectrogen(*args: str) -> list[str]:
    return [sys.executable, "-m", "spectrogen", *args]


def write_config(path: Path, name: str, settings: dict, data: Path, out: Path, minutes: float, seed: int,
                 device: str) -> None:
    """Writes the resolved configuration of one model run to `path` (kept beside the results)."""
    from spectrogen.config.loader import apply_overrides, build_config, load_raw, resolve

    overrides = [(key, value) for key, value in settings.items()]
    overrides += [("data.path", str(data)), ("output.output_dir", str(out)), ("training.max_minutes", minutes),
                  ("training.seed", seed), ("training.device", device), ("name", f"quality-{name}")]
    config = resolve(build_config(apply_overrides(load_raw("default"), overrides), source=name))
    path.write_text(json.dumps(config.model_dump(mode="json"), indent=2))


def real_samples(data: Path, reference: Path, shape: tuple[int, int], n: int, seed: int, path: Path) -> Path:
    """Writes `n` random examples of a prepared data set as a model would make them, to `path`.

    That is (N, 1, H, W): normalised per frequency with the moments of `reference` (the training
    data, which the models and the classifier use) and resized to the models' size `shape`.
    """
    from spectrogen.data.dataset import SpectrogramDataset
    from spectrogen.metrics.inputs import dataset_normalizer, normalised_examples

    dataset = SpectrogramDataset.open(data)
    normalizer = dataset_normalizer(SpectrogramDataset.open(reference))
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(len(dataset), min(n, len(dataset)), replace=False))
    np.save(path, normalised_examples(dataset, chosen, normalizer, shape))
    return path


def heldout_accuracy(classifier_path: Path, test: Path) -> dict:
    """Returns the classifier's accuracy on the held-out voices, overall and per class."""
    from spectrogen.data.dataset import SpectrogramDataset
    from spectrogen.metrics.classifier import load_classifier
    from spectrogen.metrics.inputs import dataset_normalizer, normalised_examples

    classifier = load_classifier(classifier_path)
    dataset = SpectrogramDataset.open(test)
    normalizer = dataset_normalizer(dataset, saved=classifier.normalizer)
    x = normalised_examples(dataset, np.arange(len(dataset)), normalizer, classifier.input_shape)
    predicted = classifier.extract(x).probabilities.argmax(axis=1)
    labels = np.asarray(dataset.labels)
    per_class = {name: float((predicted[labels == k] == k).mean()) for k, name in enumerate(dataset.class_names)}
    return {"accuracy": float((predicted == labels).mean()), "count": int(len(labels)), "per_class": per_class,
            "validation": classifier.heldout}


def evaluate(target: list[str], data: Path, classifier: Path, out: Path, n: int, seed: int, device: str) -> dict:
    """Runs `spectrogen evaluate` on a run or a samples file; returns its metrics.json."""
    if not (out / "metrics.json").is_file():
        run(spectrogen("evaluate", *target, "--data", str(data), "--classifier", str(classifier), "--n", str(n),
                       "--metrics", "fid,kid,is,ndb", "--out", str(out), "--seed", str(seed), "--device", device,
                       "--overwrite"), log=out.with_suffix(".log"))
    return json.loads((out / "metrics.json").read_text())


def train_models(args, names: list[str], out: Path, data: Path) -> dict:
    """Trains the models (in turn, or all at once with --parallel); returns seconds and epochs per model."""
    runs, configs = out / "runs", out / "configs"
    runs.mkdir(exist_ok=True)
    configs.mkdir(exist_ok=True)
    pending = {}
    for name in names:
        run_dir = runs / name
        if (run_dir / "checkpoints" / "final_model.tar").is_file() and not args.fresh_runs:
            continue
        settings = model_settings(name, args.full, args.width, args.batch)
        write_config(configs / f"{name}.json", name.replace("+", "-"), settings, data, run_dir, args.minutes, args.seed, args.device)
        pending[name] = spectrogen("train", "--config", str(configs / f"{name}.json"), "--quiet",
                                   *(["--overwrite"] if run_dir.exists() else []))
    env = dict(os.environ)
    if args.threads:
        env.update(OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    if args.parallel:
        processes = {}
        for name, command in pending.items():
            print("$ " + " ".join(command), flush=True)
            processes[name] = subprocess.Popen(command, stdout=open(runs / f"{name}.log", "w"),
                                               stderr=subprocess.STDOUT, env=env)
        for name, process in processes.items():
            if process.wait() != 0:
                raise SystemExit(f"training {name} failed; see {runs / f'{name}.log'}")
    else:
        for name, command in pending.items():
            run(command, log=runs / f"{name}.log", env=env)
    summary = {}
    for name in names:
        statistics = runs / name / "epochs_statistics" / "epoch_statistics.csv"
        rows = statistics.read_text().splitlines() if statistics.is_file() else []
        header = rows[0].split(",") if rows else []
        seconds = [float(dict(zip(header, row.split(",")))["seconds"]) for row in rows[1:]]
        iterations = sorted((runs / name / "single_epochs_statistics").glob("epoch_*/epoch_*_iterations.csv"),
                            key=lambda path: int(path.parent.name.split("_")[1]))
        last = iterations[-1].read_text().splitlines() if iterations else []
        steps = int(dict(zip(last[0].split(","), last[-1].split(",")))["global_step"]) if len(last) > 1 else 0
        config = json.loads((runs / name / "epochs_statistics" / "experiment_config.json").read_text())
        summary[name] = {"epochs_completed": max(len(rows) - 1, 0), "seconds_in_epochs": round(sum(seconds), 1),
                         "critic_steps": steps, "generator_steps": steps // config["training"]["critic_steps"]}
    return summary


def table(results: dict) -> str:
    """Returns the results as a markdown table."""
    lines = ["| data / model | IS (10 splits) | IS / real-train IS | FID | KID | NDB / bins | JSD | "
             "class accuracy |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    real_is = results["rows"]["real-train"]["is"]
    for row, m in results["rows"].items():
        accuracy = f"{m['class_accuracy']:.3f}" if "class_accuracy" in m else "-"
        lines.append(f"| {row} | {m['is']:.2f} +- {m['is_std']:.2f} | {m['is'] / real_is:.2f} | {m['fid']:.2f} | "
                     f"{m['kid']:.2f} | {m['ndb']}/{m['ndb_bins']} | {m['jsd']:.4f} | {accuracy} |")
    for row, m in results["rows"].items():
        if m.get("per_class"):
            figures = ", ".join(f"{name.split('_')[-1]} {v['accuracy']:.2f}" for name, v in m["per_class"].items()
                                if "accuracy" in v)
            lines.append(f"\n{row}: classifier accuracy per requested class: {figures}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("quality_benchmark"), help="working folder")
    parser.add_argument("--models", default=",".join(MODELS),
                        help="comma-separated models: specgan, dcgan, cgan, each optionally with +VARIANT "
                             f"(variants: {', '.join(VARIANTS)})")
    parser.add_argument("--minutes", type=float, default=None,
                        help="training wall-clock budget per model (default 30 on CPU, 240 with --full)")
    parser.add_argument("--full", action="store_true", help="the paper's configuration: 128x128, width 64 (a GPU)")
    parser.add_argument("--width", type=int, default=None, help="features_g/d (default 16 on CPU, 64 with --full)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads per training process")
    parser.add_argument("--parallel", action="store_true",
                        help="train the models at the same time (same budget, sharing the machine equally)")
    parser.add_argument("--n", type=int, default=1000, help="samples per evaluated row (default 1000)")
    parser.add_argument("--renditions", type=int, default=5, help="takes of each digit by each voice (default 5)")
    parser.add_argument("--classifier-epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fresh-runs", action="store_true", help="retrain models whose runs exist")
    args = parser.parse_args(argv)
    args.minutes = args.minutes if args.minutes is not None else (240.0 if args.full else 30.0)
    args.width = args.width if args.width is not None else (64 if args.full else 16)
    names = [name.strip() for name in args.models.split(",") if name.strip()]
    unknown = sorted({part for name in names for part in name.split("+")[1:] if part not in VARIANTS} |
                     {name.split("+")[0] for name in names if name.split("+")[0] not in MODELS})
    if unknown:
        parser.error(f"--models: unknown {', '.join(unknown)}; use {', '.join(MODELS)} with optional "
                     f"+VARIANT ({', '.join(VARIANTS)})")
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    speech = spoken_digits.build(out / "speech", renditions=args.renditions, seed=args.seed)
    print(f"speech: {speech['clips']} clips, {speech['voices']} voices", flush=True)
    data = {}
    for split in ("train", "test"):
        data[split] = out / "data" / split
        if not (data[split] / "dataset.json").is_file():
            run(spectrogen("prepare", str(out / "speech" / split), "--out", str(data[split]), "--representation",
                           "specgan", "--silence-db", "-70", "--quiet", "--overwrite"))
    size = "128x128" if args.full else "64x64"
    shape = (128, 128) if args.full else (64, 64)
    classifier = out / f"classifier_{size}.pt"
    if not classifier.is_file():
        run(spectrogen("evaluate", "--train-classifier", str(data["train"]), "--size", size, "--epochs",
                       str(args.classifier_epochs), "--out", str(classifier), "--seed", str(args.seed),
                       "--device", args.device), log=out / "classifier.log")
    accuracy = heldout_accuracy(classifier, data["test"])
    print(f"classifier: held-out voices accuracy {accuracy['accuracy']:.3f} ({accuracy['count']} clips)", flush=True)

    training = train_models(args, names, out, data["train"])
    evaluation = out / "evaluation"
    evaluation.mkdir(exist_ok=True)
    rows = {}
    for split in ("train", "test"):
        # seed + 1: not the subset `evaluate` draws as its reference, so real-train's FID is the sampling floor
        samples = real_samples(data[split], data["train"], shape, args.n, args.seed + 1,
                               evaluation / f"real_{split}.npy")
        rows[f"real-{split}"] = evaluate(["--samples", str(samples), "--samples-normalization", "per_frequency"],
                                         data["train"],
                                         classifier, evaluation / f"real-{split}", args.n, args.seed, args.device)
    for name in names:
        if args.fresh_runs and (evaluation / name / "metrics.json").is_file():
            (evaluation / name / "metrics.json").unlink()
        rows[name] = evaluate([str(out / "runs" / name)], data["train"], classifier, evaluation / name, args.n,
                              args.seed, args.device)
    results = {
        "date": date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {args.device}",
        "budget_minutes_per_model": args.minutes, "parallel": args.parallel, "size": size, "width": args.width,
        "batch": args.batch, "speech": speech, "classifier": accuracy, "training": training,
        "rows": {row: {**m["metrics"], **({"per_class": m["per_class"]} if m.get("per_class") else {})}
                 for row, m in rows.items()},
        "paper": PAPER, "seconds": round(time.perf_counter() - started, 1),
    }
    (out / "results.json").write_text(json.dumps(results, indent=2))
    text = table(results)
    (out / "results.md").write_text(text + "\n")
    print(text)
    real_is = results["rows"]["real-train"]["is"]
    for name in names:
        print(f"{name}: IS / real-train IS = {results['rows'][name]['is'] / real_is:.2f} "
              f"(paper: SpecGAN {PAPER['specgan_is']}/{PAPER['real_train_is']} = "
              f"{PAPER['specgan_is'] / PAPER['real_train_is']:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
