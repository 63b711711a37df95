"""Small data sets: what `spectrogen train --data DATA` gives on 20 spoken phrases, with and without the small-data settings.

    python benchmarks/small_data.py [--work DIR] [--runs defaults augment-only without issue dcgan]

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
import sys
import time
from pathlib import Path

import numpy as np
import soundfile
import soxr

from spectrogen.training.summary import read_progress

sys.path.insert(0, str(Path(__file__).resolve().parent / "quality"))
from run import run, spectrogen  # noqa: E402
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


def classifier_for(work: Path, size: int) -> Path:
    """Returns the feature network for size x size samples, trained on the scoring set at first use."""
    path = work / f"classifier_{size}.pt"
    if not path.is_file():
        log = work / f"classifier_{size}.log"
        run(spectrogen("evaluate", "--train-classifier", str(work / "reference"), "--size", f"{size}x{size}",
                       "--out", str(path)), log)
        print(log.read_text().strip().splitlines()[-1])
    return path


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
        run(spectrogen("prepare", str(work / "recordings"), "--out", str(work / "data")), work / "prepare.log")
        run(spectrogen("prepare", str(work / "reference_recordings"), "--out", str(work / "reference")),
            work / "prepare_reference.log")
    for name in args.runs:
        folder = work / "runs" / name
        started = time.perf_counter()
        run(spectrogen("train", "--data", str(work / "data"), "--output-dir", str(folder), "--overwrite",
                       *RUNS[name]), work / f"train_{name}.log")
        seconds = time.perf_counter() - started
        size = json.loads((folder / "epochs_statistics" / "experiment_config.json").read_text())["model"]["image_size"]
        run(spectrogen("evaluate", str(folder / "checkpoints" / "final_model.tar"), "--data", str(work / "reference"),
                       "--classifier", str(classifier_for(work, size)), "--metrics", "is,pr,diversity", "--n", "160",
                       "--out", str(folder / "evaluation_reference"), "--overwrite"), work / f"evaluate_{name}.log")
        metrics = json.loads((folder / "evaluation_reference" / "metrics.json").read_text())["metrics"]
        print(f"{name:14s} IS ratio {metrics['is'] / metrics['is_real']:.2f}  precision {metrics['precision']:.2f}  "
              f"recall {metrics['recall']:.2f}  diversity {metrics['diversity_ratio']:.2f}  "
              f"collapse flagged: {read_progress(folder).collapse}  {seconds:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
