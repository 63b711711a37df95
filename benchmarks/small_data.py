"""Small data sets: what `spectrogen train --data DATA` gives on 20 spoken phrases, with and without the small-data settings.

    python benchmarks/small_data.py [--work DIR] [--widths 16] [--runs without defaults issue]

A user's own 20 recordings: four short phrases, each said by five espeak-ng voices (one class per
phrase), prepared with `spectrogen prepare` at its defaults. Each run is a `spectrogen train`
command line as a user types it:

* `defaults`: `train --model specgan --data DATA --image-size 64` at widths 16 (the settings
  chosen from the data size);
* `augment-only`: the same with only DiffAugment and the generator average (the small-data settings
  before the GAN recipe: SpecGAN's own WGAN-GP with five critic updates);
* `without`: the small-data settings undone by giving the preset's own values;
* `issue`: `train --model specgan --data DATA --epochs 60 --image-size 64` at the preset's widths,
  the command that collapsed to one checkerboard before the small-data settings existed;
* `dcgan`: `train --data DATA` with no other flag (the default preset: DCGAN, 128x128, widths 64).

Every run is scored by `spectrogen evaluate` against 160 other recordings of the same four phrases
by voices the runs never heard, with a feature network trained on those (its held-out accuracy is
printed): Inception score over the real data's, precision, recall and the layout diversity ratio,
and whether training flagged its samples as alike (mode collapse). Needs espeak-ng.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile
import soxr

from spectrogen.training.summary import read_progress

sys.path.insert(0, str(Path(__file__).resolve().parent / "quality"))
from spoken_digits import ACCENTS, TEST_VARIANTS, TRAIN_VARIANTS, speak, trim  # noqa: E402

PHRASES = ("turn the engine on", "please open the door", "what time is it", "good morning to you")
RATE = 16000
PER_PHRASE = 5  # the user's recordings: 4 x 5 = 20
REFERENCE_PER_PHRASE = 40  # the scoring set, other voices: 160
SPECGAN_OWN = ["--set", "training.loss=wgan-gp", "--set", "training.critic_steps=5", "--set",
               "training.learning_rate=1e-4", "--set", "model.batchnorm=false", "--set", "training.mode_seeking=0"]
WITHOUT = [*SPECGAN_OWN, "--set", "training.diffaugment=[]", "--set", "training.ema_decay=null"]
SMALL = ["--model", "specgan", "--image-size", "64", "--features-g", "16", "--features-d", "16"]
RUNS = {
    "defaults": SMALL,
    "augment-only": [*SMALL, *SPECGAN_OWN],
    "without": [*SMALL, *WITHOUT],
    "issue": ["--model", "specgan", "--epochs", "60", "--image-size", "64"],
    "dcgan": [],
}


def say(folder: Path, voices: list[tuple[str, str]], count: int, seed: int) -> None:
    """Writes `count` recordings of each phrase, by voices drawn from `voices`, into folder/<phrase>/."""
    rng = np.random.default_rng(seed)
    for index, phrase in enumerate(PHRASES):
        target = folder / f"{index}_{phrase.split()[0]}"
        target.mkdir(parents=True, exist_ok=True)
        for take in range(count):
            accent, variant = voices[int(rng.integers(len(voices)))]
            audio, rate = speak(phrase, f"{accent}+{variant}", int(rng.integers(130, 200)), int(rng.integers(25, 75)))
            audio = trim(soxr.resample(audio, rate, RATE, quality="HQ"))
            audio = audio * 10.0 ** (float(rng.uniform(-9.0, -1.0)) / 20.0) / max(float(np.abs(audio).max()), 1e-9)
            noise = rng.standard_normal(len(audio)) * float(np.sqrt(np.mean(audio ** 2))) * 10.0 ** (-30.0 / 20.0)
            soundfile.write(target / f"{take:02d}_{accent}_{variant}.wav", (audio + noise).astype(np.float32), RATE,
                            subtype="PCM_16")


def spectrogen(*args: str, log: Path) -> float:
    """Runs one spectrogen command (its output to `log`); returns its wall seconds."""
    started = time.perf_counter()
    with open(log, "w") as handle:
        done = subprocess.run(["spectrogen", *args], stdout=handle, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise SystemExit(f"spectrogen {' '.join(args)} failed; see {log}")
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("small_data_bench"), help="folder for data and runs")
    parser.add_argument("--runs", nargs="+", default=list(RUNS), choices=list(RUNS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    users = [(accent, variant) for accent in ACCENTS[:4] for variant in TRAIN_VARIANTS]
    others = [(accent, variant) for accent in ACCENTS[4:] for variant in TRAIN_VARIANTS + TEST_VARIANTS]
    if not (work / "data").exists():
        say(work / "recordings", users, PER_PHRASE, args.seed)
        say(work / "reference_recordings", others, REFERENCE_PER_PHRASE, args.seed + 1)
        spectrogen("prepare", str(work / "recordings"), "--out", str(work / "data"), log=work / "prepare.log")
        spectrogen("prepare", str(work / "reference_recordings"), "--out", str(work / "reference"),
                   log=work / "prepare_reference.log")
        spectrogen("evaluate", "--train-classifier", str(work / "reference"), "--size", "64x64",
                   "--out", str(work / "classifier.pt"), log=work / "classifier.log")
    print((work / "classifier.log").read_text().strip().splitlines()[-1])
    rows = []
    for name in args.runs:
        run = work / "runs" / name
        seconds = spectrogen("train", "--data", str(work / "data"), "--output-dir", str(run),
                             "--overwrite", *RUNS[name], log=work / f"train_{name}.log")
        spectrogen("evaluate", str(run / "checkpoints" / "final_model.tar"), "--data", str(work / "reference"),
                   "--classifier", str(work / "classifier.pt"), "--metrics", "is,pr,diversity", "--n", "160",
                   "--out", str(run / "evaluation_reference"), "--overwrite", log=work / f"evaluate_{name}.log")
        metrics = json.loads((run / "evaluation_reference" / "metrics.json").read_text())["metrics"]
        rows.append((name, metrics["is"] / metrics["is_real"], metrics["precision"], metrics["recall"],
                     metrics["diversity_ratio"], read_progress(run).collapse, seconds))
        print(f"{name:14s} IS ratio {rows[-1][1]:.2f}  precision {rows[-1][2]:.2f}  recall {rows[-1][3]:.2f}  "
              f"diversity {rows[-1][4]:.2f}  collapse flagged: {rows[-1][5]}  {seconds:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
