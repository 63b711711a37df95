"""A spoken-digits data set in the manner of SC09, made offline with the espeak-ng speech synthesiser.

SC09 (the digits "zero" to "nine" of Speech Commands: 1 s clips at 16 kHz from thousands of
speakers) cannot be downloaded here, so this builds the closest thing a machine can make alone:
every digit spoken by many synthetic voices, each an espeak-ng accent combined with a voice
variant (timbre), at random speeds and pitches, placed at a random offset in a 1-s clip, at a
random level, with a little background noise.

The train/test split is by voice variant: the test voices' timbres never occur in training (as
SC09's test speakers are not its training speakers).

    python benchmarks/quality/spoken_digits.py OUT [--renditions 3] [--seed 0]

writes OUT/train/<k>_<digit>/*.wav, OUT/test/<k>_<digit>/*.wav and OUT/manifest.csv.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile
import soxr

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# espeak-ng's own English voices (no MBROLA needed): eight accents
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd",
           "en-029", "en-us-nyc")
# voice variants (timbre, formants, breathiness); the last three are held out for the test split
TRAIN_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m7", "f1", "f2", "f3", "klatt", "klatt2", "Alex")
TEST_VARIANTS = ("m6", "f4", "klatt3")
RATE = 16000
CLIP = 16000  # one second, as SC09; the specgan representation pads it to 16384 samples


@dataclass(frozen=True)
class Rendition:
    """One clip: who says which digit how, and how it is placed in the second."""

    split: str
    digit: int
    accent: str
    variant: str
    take: int
    speed: int  # words per minute
    pitch: int  # espeak-ng 0-99
    gain_db: float
    snr_db: float
    offset: float  # where in the free space of the clip the word starts, 0-1

    @property
    def voice(self) -> str:
        return f"{self.accent}+{self.variant}"

    @property
    def path(self) -> str:
        return f"{self.split}/{self.digit}_{DIGITS[self.digit]}/{self.accent}_{self.variant}_{self.take}.wav"

    def seed(self) -> int:
        return int.from_bytes(hashlib.sha256(self.path.encode()).digest()[:4], "little")


def plan(renditions: int, seed: int) -> list[Rendition]:
    """Returns every clip to make: each voice says each digit `renditions` times."""
    rng = np.random.default_rng(seed)
    clips = []
    for split, variants in (("train", TRAIN_VARIANTS), ("test", TEST_VARIANTS)):
        for accent in ACCENTS:
            for variant in variants:
                for digit in range(len(DIGITS)):
                    for take in range(renditions):
                        clips.append(Rendition(
                            split, digit, accent, variant, take, speed=int(rng.integers(120, 230)),
                            pitch=int(rng.integers(20, 80)), gain_db=float(rng.uniform(-12.0, 0.0)),
                            snr_db=float(rng.uniform(15.0, 40.0)), offset=float(rng.uniform(0.0, 1.0))))
    return clips


def speak(text: str, voice: str, speed: int, pitch: int) -> tuple[np.ndarray, int]:
    """Returns (audio (S,) float32, sample rate) of espeak-ng saying `text`."""
    result = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", text],
                            capture_output=True, check=True)
    audio, rate = soundfile.read(io.BytesIO(result.stdout), dtype="float32")
    return audio, rate


def trim(audio: np.ndarray, threshold_db: float = -45.0) -> np.ndarray:
    """Returns `audio` without the leading and trailing samples quieter than `threshold_db` below its peak."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak == 0.0:
        return audio
    loud = np.flatnonzero(np.abs(audio) > peak * 10.0 ** (threshold_db / 20.0))
    return audio[loud[0]:loud[-1] + 1]


def render(clip: Rendition) -> np.ndarray:
    """Returns the 1-s clip (16000,) float32 of `clip`: spoken, trimmed, placed, levelled, with noise."""
    rng = np.random.default_rng(clip.seed())
    audio, rate = speak(DIGITS[clip.digit], clip.voice, clip.speed, clip.pitch)
    word = trim(soxr.resample(audio, rate, RATE, quality="HQ"))
    if len(word) > CLIP:  # a very slow take: keep the first second, faded out
        word = word[:CLIP] * np.concatenate([np.ones(CLIP - 800), np.linspace(1.0, 0.0, 800)])
    out = np.zeros(CLIP, dtype=np.float64)
    start = int(clip.offset * (CLIP - len(word)))
    out[start:start + len(word)] = word
    scale = 10.0 ** ((clip.gain_db - 1.0) / 20.0) / max(float(np.max(np.abs(word))), 1e-9)  # peak -> gain - 1 dB
    out *= scale
    speech_rms = float(np.sqrt(np.mean(word ** 2))) * scale
    noise = rng.standard_normal(CLIP)
    noise = np.convolve(noise, [0.6, 0.3, 0.1], mode="same")  # a little darker than white
    noise *= speech_rms * 10.0 ** (-clip.snr_db / 20.0) / float(np.sqrt(np.mean(noise ** 2)))
    return np.clip(out + noise, -1.0, 1.0).astype(np.float32)


def build(out: Path, renditions: int = 3, seed: int = 0, workers: int = 4, quiet: bool = False) -> dict:
    """Writes the data set to `out` (refusing a non-empty folder that is not an earlier build of the same plan).

    Returns the summary (clips per split, voices, seconds). An earlier complete build with the
    same parameters is kept as it is.
    """
    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng is not installed: `apt-get install espeak-ng` (Debian/Ubuntu) or "
                         "`brew install espeak-ng` (macOS)")
    parameters = {"renditions": renditions, "seed": seed, "accents": ACCENTS, "train_variants": TRAIN_VARIANTS,
                  "test_variants": TEST_VARIANTS, "rate": RATE, "clip": CLIP}
    summary_path = out / "summary.json"
    if summary_path.is_file():
        summary = json.loads(summary_path.read_text())
        if summary.get("parameters") == json.loads(json.dumps(parameters)):
            return summary
        raise SystemExit(f"{out} holds a spoken-digits build with other parameters; choose another folder")
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"{out} is not empty and holds no spoken-digits build; choose another folder")
    clips = plan(renditions, seed)
    started = time.perf_counter()

    def make(clip: Rendition) -> Rendition:
        path = out / clip.path
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(path, render(clip), RATE, subtype="PCM_16")
        return clip

    from tqdm import tqdm

    with ThreadPoolExecutor(max_workers=workers) as pool:
        done = list(tqdm(pool.map(make, clips), total=len(clips), desc="speaking", disable=quiet, unit="clip"))
    with open(out / "manifest.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["path", "voice", *asdict(done[0]).keys()])
        writer.writeheader()
        for clip in done:
            writer.writerow({"path": clip.path, "voice": clip.voice, **asdict(clip)})
    counts = {split: sum(clip.split == split for clip in done) for split in ("train", "test")}
    summary = {"parameters": parameters, "clips": counts,
               "voices": {"train": len(ACCENTS) * len(TRAIN_VARIANTS), "test": len(ACCENTS) * len(TEST_VARIANTS)},
               "seconds": round(time.perf_counter() - started, 1),
               "espeak_ng": subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout.strip()}
    summary_path.write_text(json.dumps(summary, indent=2))
    return json.loads(summary_path.read_text())  # as a later call reads it back


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="folder to write (must be empty or absent)")
    parser.add_argument("--renditions", type=int, default=3, help="takes of each digit by each voice (default 3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=4, help="espeak-ng processes at once")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    summary = build(args.out, args.renditions, args.seed, args.workers, args.quiet)
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
