"""Rebuilds, offline, two small sets of real one-shot sounds laid out as a sample pack: one folder per class.

    python benchmarks/oneshots/build.py drums OUT   # OUT/kick, snare, hihat, cymbal, tom, clap/*.wav|flac|aiff
    python benchmarks/oneshots/build.py words OUT   # OUT/zero ... OUT/nine/*.wav, one spoken word per file
    python benchmarks/oneshots/build.py drums OUT --per-class 20 --classes kick,snare,hihat

Options: `--per-class N` keeps at most N files per class (spread evenly over the sorted names),
`--classes a,b` keeps only those classes, `--replace` replaces an earlier build in OUT (a folder
holding anything else is never touched). Each build also writes OUT/manifest.csv (where every file
comes from, its licence, duration and format) and prints a table per class. Exit status 2 when a
source is missing or an argument is wrong.

drums: the sample files of the Hydrogen drum machine's kits, copied byte for byte (their own
format, sample rate, channels and bit depth: wav/flac/aiff, 22.05-48 kHz, mono and stereo,
8/16/24-bit); about 500 files, 190 MB. `apt-get install hydrogen-data` gives two kits (GMRockKit,
TR808EmulationKit: GPL-2+ as /usr/share/doc/hydrogen-data/copyright says of the whole package);
its recommended packages (`hydrogen`, then `hydrogen-drumkits`) add fourteen more, which apt
installs by default. /usr/share/doc/hydrogen-drumkits/copyright licenses those: most GPL-2 or
GPL-2+ (ColomboAcousticDrumkit with an exception for compositions), circAfrique and BJA_Pacific
CC-BY-SA-3.0, rumpf_kit CC-BY-3.0, Audiophob CC0. The manifest gives each file its kit's licence;
CC-BY(-SA) asks for the author's name wherever the sounds are passed on.

Each instrument of a kit's drumkit.xml is put in a class by its name, case-insensitively, or by its
sample's file name when the name says nothing: kick (kick, bass drum, bd), snare (snare, sd; rim
shots on the snare included), hihat (hat, hi-hat, hh), cymbal (crash, ride incl. its bell, cymbal,
splash, china), tom (tom, floor tom), clap (clap). Left out: side-stick and rim clicks (a click,
not a snare hit), snare rolls (not one-shots), and everything else (cowbell, percussion, effects,
unnamed slots); the summary lists them. A file used by several instruments, or the same bytes in
several kits, is copied once; silent placeholders are skipped. A kit without a usable drumkit.xml
is sorted by its audio files' names.

words: single English words spoken by the espeak-ng synthesiser (`apt-get install espeak-ng`, a
GPL-3+ program), 22.05 kHz 16-bit mono, trimmed to the word (not padded to a fixed length): the ten digits,
each by 10 fixed voices (espeak-ng accents with voice variants) at 3 speeds and a fixed pitch per
take, 30 files a word of about 0.3-0.8 s. The same espeak-ng version gives the same files.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import NoReturn
from xml.etree import ElementTree

import numpy as np
import soundfile

KITS = Path("/usr/share/hydrogen/data/drumkits")
KIT_AUDIO = (".wav", ".flac", ".aif", ".aiff")
SUFFIX_OF_FORMAT = {"WAV": ".wav", "WAVEX": ".wav", "FLAC": ".flac", "AIFF": ".aiff"}

# checked in this order on the normalised name ("Hi-Hat Closed" -> "hi hat closed", "BD_08" -> "bd 08")
DRUM_CLASSES: dict[str, re.Pattern[str]] = {
    "clap": re.compile(r"clap"),
    "hihat": re.compile(r"hihat|\bhat|hat\b|\b[cop]?hh"),
    "cymbal": re.compile(r"\b(crash|ride|cymbal|splash|china)"),
    "snare": re.compile(r"snare|\bsd\b"),
    "tom": re.compile(r"\btom|floor ?tom"),
    "kick": re.compile(r"\b(kick|bass ?drum|bd\b)"),
}
NOT_ONE_SHOT = re.compile(r"\broll")  # a snare roll lasts as long as it is played
# for kits whose drumkit.xml names no licence: /usr/share/doc/hydrogen-drumkits/copyright
KIT_LICENCES = {"ColomboAcousticDrumkit": "GPL-2+ with an exception for compositions", "Millo-Drums_v.1": "GPL-2",
                "Millo_MultiLayered2": "GPL-2", "Millo_MultiLayered3": "GPL-2"}
SHOWN_LEFT_OUT = 40  # instrument names listed in the summary

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# (espeak-ng voice = accent + variant, pitch 0-99); each speaks every word at every speed
VOICES = (("en-us+m3", 40), ("en-us+f2", 60), ("en-gb+m7", 35), ("en-gb+f4", 55), ("en-gb-scotland+m1", 50),
          ("en-gb-x-rp+f1", 65), ("en-029+m5", 45), ("en-us-nyc+f3", 50), ("en-gb-x-gbclan+m2", 30),
          ("en-gb-x-gbcwmd+klatt", 50))
SPEEDS = (135, 155, 175)  # words per minute
TRIM_DB = -45.0  # a word starts and ends where it first and last comes within this of its peak
MARGIN_S = (0.01, 0.03)  # kept before and after the word


@dataclass(frozen=True)
class Sample:
    """One file of the set: its class, its name in the class folder and where it comes from."""

    label: str
    name: str
    origin: str  # kit/instrument/file, or the espeak-ng voice and settings
    licence: str
    source: Path | None = None  # the file copied (drums)
    make: Callable[[Path], None] | None = None  # writes the file (words)


@dataclass
class Plan:
    """The samples to write, with what was left out and why."""

    samples: list[Sample]
    left_out: Counter[str]  # instrument name -> files not taken
    notes: list[str]


def fail(message: str) -> NoReturn:
    """Returns never: prints `message` on one line and exits with status 2."""
    print(f"build.py: {message}", file=sys.stderr)
    raise SystemExit(2)


def normalise(text: str) -> str:
    """Returns `text` as lower-case words split at case and digit changes ("TomFloor2" -> "tom floor 2")."""
    text = re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])", " ", text)
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def classify(text: str) -> str | None:
    """Returns the drum class named in `text` (an instrument or file name), or None."""
    words = normalise(text)
    return next((label for label, pattern in DRUM_CLASSES.items() if pattern.search(words)), None)


def safe(text: str) -> str:
    """Returns `text` usable in a file name: runs of other characters than letters, digits, `.-+` become `_`."""
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", text).strip("_.") or "unnamed"


def local(tag: str) -> str:
    """Returns an XML tag without its namespace."""
    return tag.rsplit("}", 1)[-1]


def read_drumkit(kit: Path) -> tuple[list[tuple[str, list[str]]], str] | None:
    """Returns ([(instrument name, sample file names)], licence) from kit/drumkit.xml, or None if unusable."""
    try:
        root = ElementTree.parse(kit / "drumkit.xml").getroot()
    except (OSError, ElementTree.ParseError):
        return None
    instruments = []
    for element in root.iter():
        if local(element.tag) != "instrument":
            continue
        name = next((child.text or "" for child in element if local(child.tag) == "name"), "").strip()
        files = [node.text.strip() for node in element.iter() if local(node.tag) == "filename" and node.text]
        instruments.append((name, files))
    licence = next((node.text or "" for node in root if local(node.tag) == "license"), "").strip()
    return (instruments, licence) if any(files for _, files in instruments) else None


def kit_instruments(kit: Path) -> tuple[list[tuple[str, list[str]]], str, bool]:
    """Returns the kit's (instrument, sample file names), licence and whether they come from drumkit.xml.

    Without a usable drumkit.xml each audio file of the kit is an instrument named by the file.
    """
    parsed = read_drumkit(kit)
    if parsed is not None:
        return (*parsed, True)
    files = sorted(path.name for path in kit.iterdir() if path.suffix.lower() in KIT_AUDIO)
    return [(Path(name).stem, [name]) for name in files], "", False


def audio_info(path: Path) -> soundfile._SoundFileInfo | None:
    """Returns soundfile's description of `path`, or None if it is not audio libsndfile reads."""
    try:
        return soundfile.info(str(path))
    except (RuntimeError, soundfile.LibsndfileError):
        return None


def is_silent(path: Path) -> bool:
    """Returns whether `path` holds no sound at all (a kit's empty placeholder sample)."""
    audio, _ = soundfile.read(str(path), dtype="int16", always_2d=True)
    return audio.size == 0 or int(np.abs(audio.astype(np.int32)).max()) <= 1


def digest(path: Path) -> str:
    """Returns the SHA-1 of the file's bytes."""
    return hashlib.sha1(path.read_bytes()).hexdigest()


def kit_files(kit: Path, notes: list[str], skipped: Counter[str]) -> list[tuple[Path, str, str, int, str]]:
    """Returns the kit's usable sample files: (path, suffix of its format, instrument, files of it, licence).

    Appends a line on the kit to `notes`; counts empty slots and missing, unreadable or silent files in `skipped`.
    """
    instruments, licence, from_xml = kit_instruments(kit)
    licence = licence or KIT_LICENCES.get(kit.name, "")
    notes.append(f"{kit.name}: {len(instruments)} instruments{'' if from_xml else ' (no usable drumkit.xml)'}, "
                 f"licence: {licence or 'see the package copyright'}")
    found = []
    for instrument, files in instruments:
        skipped["instrument slots without a file"] += not files
        for path in (kit / file_name for file_name in files):
            info = audio_info(path) if path.is_file() else None
            if info is None or info.frames == 0 or is_silent(path):
                skipped["missing, unreadable or silent files"] += 1
            else:
                suffix = SUFFIX_OF_FORMAT.get(info.format, path.suffix.lower())
                found.append((path, suffix, instrument, len(files), licence))
    return found


def drum_class(instrument: str, path: Path) -> str | None:
    """Returns the class of an instrument's sample file: by the instrument's name, else the file's; None if neither."""
    if NOT_ONE_SHOT.search(normalise(instrument)):
        return None
    return classify(instrument) or classify(path.stem)


def plan_drums(kits_root: Path) -> Plan:
    """Returns the kits' classified sample files, each file once, with what was left out."""
    kits = sorted(path for path in kits_root.iterdir() if path.is_dir()) if kits_root.is_dir() else []
    if not kits:
        fail(f"no Hydrogen drum kits in {kits_root}: apt-get install hydrogen-data "
             "(2 kits; hydrogen-drumkits adds 14), or give --kits DIR")
    plan = Plan([], Counter(), [])
    skipped: Counter[str] = Counter()
    seen: set[str] = set()
    for kit in kits:
        for path, suffix, instrument, layers, licence in kit_files(kit, plan.notes, skipped):
            label = drum_class(instrument, path)
            if label is None:
                plan.left_out[instrument or "(no name)"] += 1
                continue
            key = digest(path)
            skipped["copies of a file already taken"] += key in seen
            if key in seen:
                continue
            seen.add(key)
            if suffix != path.suffix.lower():
                plan.notes.append(f"{kit.name}/{path.name} is {suffix[1:].upper()} inside: copied as {suffix}")
            stem = f"{safe(kit.name)}__{safe(instrument)}"
            if layers > 1 or any(sample.name == stem + suffix for sample in plan.samples):
                stem += f"__{safe(path.stem)}"
            plan.samples.append(Sample(label, stem + suffix, f"{kit.name}/{instrument}/{path.name}", licence,
                                       source=path))
    plan.notes.append("skipped: " + ", ".join(f"{n} {what}" for what, n in sorted(skipped.items())))
    return plan


def speak(word: str, voice: str, speed: int, pitch: int) -> tuple[np.ndarray, int]:
    """Returns (int16 samples, sample rate) of espeak-ng saying `word`, trimmed to the word."""
    result = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", word],
                            capture_output=True, check=True)
    audio, rate = soundfile.read(io.BytesIO(result.stdout), dtype="int16")
    level = np.abs(audio.astype(np.int32))
    loud = np.flatnonzero(level > level.max() * 10.0 ** (TRIM_DB / 20.0))
    start = max(0, loud[0] - int(MARGIN_S[0] * rate))
    return audio[start:loud[-1] + 1 + int(MARGIN_S[1] * rate)], rate


def write_word(word: str, voice: str, speed: int, pitch: int, path: Path) -> None:
    """Returns nothing; writes `word` spoken by `voice` to `path` (16-bit WAV)."""
    audio, rate = speak(word, voice, speed, pitch)
    soundfile.write(str(path), audio, rate, subtype="PCM_16")


def plan_words() -> Plan:
    """Returns every (word, voice, speed) file to speak."""
    if shutil.which("espeak-ng") is None:
        fail("espeak-ng is not installed: apt-get install espeak-ng")
    version = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    samples = []
    for word in DIGITS:
        for voice, pitch in VOICES:
            for speed in SPEEDS:
                make = partial(write_word, word, voice, speed, pitch)
                samples.append(Sample(word, f"{safe(voice)}_s{speed}_p{pitch}.wav",
                                      f"espeak-ng -v {voice} -s {speed} -p {pitch} {word}",
                                      "made with espeak-ng (GPL-3+)", make=make))
    return Plan(samples, Counter(), [version])


def select(samples: list[Sample], classes: list[str] | None, per_class: int | None) -> list[Sample]:
    """Returns the samples of `classes` (all if None), at most `per_class` a class, spread over the sorted names."""
    chosen = []
    for label in sorted({sample.label for sample in samples}):
        if classes is not None and label not in classes:
            continue
        group = sorted((sample for sample in samples if sample.label == label), key=lambda sample: sample.name)
        if per_class is not None and len(group) > per_class:
            group = [group[index * len(group) // per_class] for index in range(per_class)]
        chosen.extend(group)
    return chosen


def earlier_build(out: Path) -> bool:
    """Returns whether `out` holds only an earlier build: its manifest.csv and the files it lists."""
    manifest = out / "manifest.csv"
    if not manifest.is_file():
        return False
    with open(manifest, newline="") as handle:
        listed = {f"{row['class']}/{row['file']}" for row in csv.DictReader(handle)}
    present = {path.relative_to(out).as_posix() for path in out.rglob("*") if not path.is_dir()}
    return present <= listed | {"manifest.csv"}


def prepare_out(out: Path, replace: bool) -> None:
    """Returns after checking that `out` may be written: absent, empty, or (with `replace`) an earlier build."""
    if out.exists() and not out.is_dir():
        fail(f"{out} is a file; give a folder")
    if out.is_dir() and any(out.iterdir()):
        if not replace:
            fail(f"{out} is not empty; choose a new folder, or --replace an earlier build")
        if not earlier_build(out):
            fail(f"{out} holds files that are not an earlier build of this script; not replacing it")


def write(samples: list[Sample], out: Path) -> list[dict[str, object]]:
    """Returns the manifest rows after writing `samples` to a new folder that then becomes `out`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        rows = [write_sample(sample, work) for sample in samples]
        with open(work / "manifest.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    if out.exists():
        shutil.rmtree(out)  # checked by prepare_out: empty, or an earlier build and nothing else
    os.replace(work, out)
    return rows


def write_sample(sample: Sample, folder: Path) -> dict[str, object]:
    """Returns the manifest row of `sample` after copying or making its file in `folder`/class/."""
    path = folder / sample.label / sample.name
    path.parent.mkdir(exist_ok=True)
    if sample.source is not None:
        shutil.copyfile(sample.source, path)
    elif sample.make is not None:
        sample.make(path)
    info = soundfile.info(str(path))
    return {"class": sample.label, "file": sample.name, "seconds": round(info.duration, 4),
            "rate": info.samplerate, "channels": info.channels, "format": path.suffix[1:],
            "subtype": info.subtype, "origin": sample.origin, "licence": sample.licence}


def table(rows: list[dict[str, object]]) -> str:
    """Returns the summary table: per class, files, min/median/max seconds, formats, rates, channels, subtypes."""
    def tally(values: list[object]) -> str:
        """Returns "value:count ..." over `values`."""
        return " ".join(f"{value}:{n}" for value, n in sorted(Counter(values).items(), key=lambda pair: str(pair[0])))

    lines = [f"{'class':<8} {'files':>5} {'min s':>6} {'med s':>6} {'max s':>6}  formats / rates / channels / subtypes"]
    for label in sorted({str(row["class"]) for row in rows}):
        group = [row for row in rows if row["class"] == label]
        seconds = [float(row["seconds"]) for row in group]
        lines.append(f"{label:<8} {len(group):>5} {min(seconds):>6.2f} {statistics.median(seconds):>6.2f} "
                     f"{max(seconds):>6.2f}  {tally([row['format'] for row in group])} / "
                     f"{tally([row['rate'] for row in group])} / {tally([row['channels'] for row in group])} / "
                     f"{tally([row['subtype'] for row in group])}")
    return "\n".join(lines)


def report_left_out(left_out: Counter[str]) -> str:
    """Returns one line: how many files were left out, and from which instruments."""
    if not left_out:
        return "left out: nothing"
    ranked = sorted(left_out.items(), key=lambda pair: (-pair[1], pair[0].lower()))
    listed = ", ".join(f"{name} x{n}" if n > 1 else name for name, n in ranked[:SHOWN_LEFT_OUT])
    more = f" and {len(ranked) - SHOWN_LEFT_OUT} more" if len(ranked) > SHOWN_LEFT_OUT else ""
    return (f"left out: {sum(left_out.values())} files of {len(left_out)} instruments matching no class "
            f"(or not one-shots): {listed}{more}")


def main(argv: list[str] | None = None) -> int:
    """Returns the exit status after building the set the arguments ask for and printing its summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("set", choices=("drums", "words"))
    parser.add_argument("out", type=Path, help="folder to write (absent or empty, or an earlier build with --replace)")
    parser.add_argument("--per-class", type=int, metavar="N", help="at most N files a class")
    parser.add_argument("--classes", metavar="A,B", help="keep only these classes")
    parser.add_argument("--kits", type=Path, default=KITS, help=f"Hydrogen drum kits folder (default {KITS})")
    parser.add_argument("--replace", action="store_true", help="replace an earlier build in OUT")
    args = parser.parse_args(argv)
    if args.per_class is not None and args.per_class < 1:
        fail(f"--per-class must be at least 1, not {args.per_class}")
    prepare_out(args.out, args.replace)
    started = time.perf_counter()
    plan = plan_drums(args.kits) if args.set == "drums" else plan_words()
    classes = None
    if args.classes is not None:
        classes = [name.strip() for name in args.classes.split(",") if name.strip()]
        known = sorted(DRUM_CLASSES) if args.set == "drums" else list(DIGITS)
        unknown = [name for name in classes if name not in known]
        if unknown or not classes:
            fail(f"--classes {args.classes}: unknown {', '.join(unknown) or '(none given)'}; "
                 f"the {args.set} classes are {', '.join(known)}")
    samples = select(plan.samples, classes, args.per_class)
    if not samples:
        fail(f"no {args.set} files of the classes asked for ({args.classes}) in the sources")
    rows = write(samples, args.out)
    print("\n".join(plan.notes))
    print(table(rows))
    if args.set == "drums":
        print(report_left_out(plan.left_out))
    seconds = time.perf_counter() - started
    print(f"{len(rows)} files in {args.out} ({seconds:.1f} s); sources and licences in {args.out}/manifest.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
