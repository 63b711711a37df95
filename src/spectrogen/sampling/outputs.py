"""`spectrogen sample` as a function: N samples written to a folder (docs/architecture.md) a batch at a time, the
arrays under temporary names and sampling.json last, so that no file is seen half-written and a folder without
sampling.json holds an unfinished run. Only `overwrite` replaces files, and only this run's names."""

from __future__ import annotations

import json
import os
import re
import time
from array import array
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional, Sequence

import numpy as np
import torch

from spectrogen import __version__
from spectrogen.atomic import open_replacing, temporary_path
from spectrogen.data.writer import GrowingNpy
from spectrogen.errors import OverwriteError, UsageError
from spectrogen.paths import check_folder_path, listed
from spectrogen.sampling.audio import (DEFAULT_LOUDNESS, check_audible, check_loudness, decibels, rms_level,
                                      set_level, to_audio, write_wav)
from spectrogen.sampling.convert import SAMPLING_METADATA
from spectrogen.sampling.generate import gan_truncation, new_seed, sample_batches
from spectrogen.sampling.images import save_grid, save_images, value_range
from spectrogen.sampling.naming import SampleFiles, SampleNames
from spectrogen.spectral.griffin_lim import check_init

FORMATS = ("npy", "png", "wav")
MAX_SAMPLES = 10_000_000  # far more than any use needs (655 GB at 128 x 128): a larger --n is a typo, refused
GRID_SAMPLES = 64  # grid.png shows the first samples only: more tiles would be too small to see
JSON_CHUNK = 65536  # items of a long list in sampling.json made at once


@dataclass
class SampleResult:
    """What `write_samples` wrote, and notes for the user (e.g. an ignored option)."""

    out_dir: Path
    samples: Path
    images: Sequence[Path] = field(default_factory=list)  # one per sample, then grid.png
    audio: Sequence[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    levels_dbfs: Sequence[float] = field(default_factory=list)  # RMS of each .wav file
    seconds_of_audio: float = 0.0
    wall_seconds: float = 0.0


class StreamedArray(GrowingNpy):
    """An `.npy` file of rows appended batch by batch under a temporary name; `commit` gives it its name, `final`."""

    def __init__(self, final: Path, row_shape: tuple[int, ...], dtype: str):
        self.final = Path(final)
        super().__init__(temporary_path(self.final), row_shape, dtype)

    def commit(self) -> Path:
        """Returns the final path after closing the file and renaming it there."""
        self.close()
        os.replace(self.path, self.final)
        return self.final

    def discard(self) -> None:
        self.abort()
        self.path.unlink(missing_ok=True)


@dataclass
class Chunks:
    """A long JSON list given as pieces (`make()` returns an iterable of lists), written one piece at a time."""

    make: Callable[[], Iterable[Sequence]]


def write_json(path, record: dict) -> Path:
    """Returns `path` after writing `record` there as JSON (indented); `Chunks` values are written piece by piece."""
    pieces: dict[str, Chunks] = {}

    def hold_place(value):
        if isinstance(value, Chunks):
            marker = f"\0list{len(pieces)}\0"
            pieces[json.dumps(marker)] = value
            return marker
        return {key: hold_place(item) for key, item in value.items()} if isinstance(value, dict) else value

    text = json.dumps(hold_place(record), indent=2)
    with open_replacing(path, "w", encoding="utf-8") as handle:
        position = 0
        if pieces:
            for match in re.finditer("|".join(map(re.escape, pieces)), text):
                handle.write(text[position:match.start()])
                _write_list(handle, pieces[match.group()])
                position = match.end()
        handle.write(text[position:])
    return Path(path)


def _write_list(handle, chunks: Chunks) -> None:
    handle.write("[")
    first = True
    for piece in chunks.make():
        if len(piece):
            handle.write(("" if first else ", ") + ", ".join(json.dumps(item) for item in piece))
            first = False
    handle.write("]")


def parse_formats(text: str | Sequence[str]) -> tuple[str, ...]:
    """Returns the output formats named in `text` ("npy,png,wav"); npy is always included."""
    names = text.split(",") if isinstance(text, str) else list(text)
    formats = {name.strip().lower() for name in names if name.strip()}
    unknown = formats - set(FORMATS)
    if unknown:
        raise UsageError(f"--format {','.join(sorted(unknown))}: choose from {','.join(FORMATS)} (comma-separated)")
    return tuple(f for f in FORMATS if f in formats | {"npy"})


def write_samples(model, out_dir, n: int, *, class_choice: Optional[str | int] = None,
                  formats: Sequence[str] = ("npy",), seed: Optional[int] = None, truncation: Optional[float] = None,
                  batch_size: int = 64, griffin_lim_iters: Optional[int] = None, overwrite: bool = False,
                  loudness: str = DEFAULT_LOUDNESS, phase_init: str = "pghi",
                  log: Callable[[str], None] = lambda _: None) -> SampleResult:
    """Returns what was written after generating `n` samples of `model` (a LoadedGenerator) into `out_dir`;
    every option, and `out_dir`, is checked before anything is generated or written."""
    started = time.perf_counter()
    formats = parse_formats(formats)
    if n > MAX_SAMPLES:
        raise UsageError(f"--n {n}: at most {MAX_SAMPLES:,} samples in one run; ask for fewer, or run again "
                         f"with another --seed and --out for more")
    seed = new_seed() if seed is None else int(seed)
    truncation, note = gan_truncation(model.model_name, truncation)
    names = SampleNames.of_model(model, n, class_choice)
    # checks n, the batch size and the classes; draws nothing until asked for a batch
    batches = sample_batches(model, n, labels=names.labels if names.conditional else None, seed=seed,
                             batch_size=batch_size, truncation=truncation)
    iterations = model.config.output.griffin_lim_iterations if griffin_lim_iters is None else griffin_lim_iters
    if iterations < 1:
        raise UsageError(f"--griffin-lim-iters {iterations}: use at least 1")
    if "wav" in formats:
        check_audible(model.representation, str(model.path or "this model"))
        check_loudness(loudness)
        check_init(phase_init)
    out_dir = check_folder_path(out_dir, "--out")
    _refuse_overwrite(out_dir, names, formats, overwrite)
    log(f"generating {n} sample(s) with {model.model_name} (seed {seed})")
    created = not out_dir.is_dir()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        writer = _SampleWriter(model, out_dir, names, formats, seed=seed, iterations=iterations, loudness=loudness,
                               phase_init=phase_init, log=log)
    except OSError as exc:
        _remove_if_empty(out_dir, created)
        raise UsageError(f"--out {out_dir}: cannot write there ({exc.strerror or exc})") from None
    try:
        if overwrite:  # the old run's whole-set files go first, so that an unfinished run never looks finished
            for path in _set_files(out_dir, formats, names.conditional):
                path.unlink(missing_ok=True)
        writer.write(batches)
        result = writer.finish()
        _write_metadata(out_dir, model, names, seed, truncation, formats, writer.audio_settings())
    except BaseException:  # Ctrl-C too
        writer.discard()
        _remove_if_empty(out_dir, created)
        raise
    if note:
        result.notes.append(note)
    result.wall_seconds = time.perf_counter() - started
    return result


class _SampleWriter:
    """Writes one run's batches: each sample's files at once, the arrays under temporary names until `finish`."""

    def __init__(self, model, out_dir: Path, names: SampleNames, formats: tuple[str, ...], *, seed: int,
                 iterations: int, loudness: str, phase_init: str, log: Callable[[str], None]):
        self.model, self.out_dir, self.names, self.formats, self.log = model, out_dir, names, formats, log
        self.seed, self.iterations, self.loudness, self.phase_init = seed, iterations, loudness, phase_init
        self.samples = StreamedArray(out_dir / "samples.npy", tuple(model.shape), "float32")
        try:
            self.labels = StreamedArray(out_dir / "labels.npy", (), "int64") if names.conditional else None
        except BaseException:
            self.samples.discard()
            raise
        self.images = SampleFiles(out_dir, names, "png")
        self.audio = SampleFiles(out_dir, names, "wav")
        self.levels = array("f")  # RMS in dBFS of each .wav file: 4 bytes a sample
        self.colour_range: Optional[tuple[float, float]] = None  # of the first batch, for every image

    def write(self, batches: Iterator[torch.Tensor]) -> None:
        """Writes every batch (b, C, H, W) of `batches`, holding one at a time."""
        start = 0
        for batch in batches:
            self.samples.append(batch.numpy())
            if self.labels is not None:
                self.labels.append(self.names.labels(start, start + len(batch)).numpy())
            if "png" in self.formats:
                self._draw(start, batch)
            if "wav" in self.formats:
                self._sound(start, batch)
            start += len(batch)
            del batch  # the next batch is made while nothing holds this one

    def _draw(self, start: int, batch: torch.Tensor) -> None:
        if self.colour_range is None:
            self.log("drawing images")
            self.colour_range = value_range(batch.numpy(), None, None)
        low, high = self.colour_range
        save_images(batch, self.out_dir, names=self.names.names(start, start + len(batch)),
                    representation=self.model.representation, vmin=low, vmax=high, value_label="normalised value")
        self.images.written += len(batch)

    def _sound(self, start: int, batch: torch.Tensor) -> None:
        if start == 0:
            self.log(f"inverting to audio ({self.phase_init} phase, {self.iterations} Griffin-Lim iterations)")
        model = self.model
        # the phases of each batch come from the run's seed: the same command gives the same files
        audio = to_audio(batch, model.representation, model.normalizer, n_iter=self.iterations,
                         seed=self.seed + start, init=self.phase_init)  # (b, S)
        clips = set_level(audio, self.loudness)
        for clip, name in zip(clips, self.names.names(start, start + len(batch))):
            write_wav(self.out_dir / f"{name}.wav", clip, model.representation.sample_rate)
            self.audio.written += 1
        self.levels.extend(round(float(level), 1) for level in decibels(rms_level(clips)))

    def finish(self) -> SampleResult:
        """Returns what was written, after giving the arrays their names and drawing grid.png."""
        result = SampleResult(out_dir=self.out_dir, samples=self.samples.commit(), images=self.images,
                              audio=self.audio, levels_dbfs=self.levels)
        if self.labels is not None:
            self.labels.commit()
        if "png" in self.formats:
            self.images.extra.append(self._grid())
        if "wav" in self.formats:
            result.seconds_of_audio = len(self.audio) * self.model.representation.duration
        return result

    def _grid(self) -> Path:
        """Returns grid.png after drawing the first GRID_SAMPLES samples, read back from samples.npy."""
        count = min(self.names.n, GRID_SAMPLES)
        first = np.array(np.load(self.samples.final, mmap_mode="r")[:count])  # (count, 1, H, W)
        labels = self.names.labels(0, count)
        captions = self.model.label_names(labels) if labels is not None else None
        low, high = self.colour_range
        return save_grid(first, self.out_dir / "grid.png", representation=self.model.representation, captions=captions,
                         vmin=low, vmax=high, value_label="normalised value")

    def discard(self) -> None:
        """Removes the unfinished arrays (the files of finished samples stay: each is whole)."""
        for array_file in (self.samples, self.labels):
            if array_file is not None:
                array_file.discard()

    def audio_settings(self) -> Optional[dict]:
        """Returns the audio entry of sampling.json, None without .wav files."""
        if "wav" not in self.formats:
            return None
        levels = self.levels
        return {"loudness": self.loudness, "phase_init": self.phase_init, "griffin_lim_iterations": self.iterations,
                "rms_dbfs": Chunks(lambda: ([round(float(level), 1) for level in levels[i:i + JSON_CHUNK]]
                                            for i in range(0, len(levels), JSON_CHUNK)))}


def _remove_if_empty(out_dir: Path, created: bool) -> None:
    if created:
        with suppress(OSError):
            out_dir.rmdir()


def _set_files(out_dir: Path, formats: tuple[str, ...], conditional: bool) -> list[Path]:
    """Returns the files that describe the whole set of samples (not one sample)."""
    names = ["samples.npy", SAMPLING_METADATA] + (["labels.npy"] if conditional else [])
    return [out_dir / name for name in names + (["grid.png"] if "png" in formats else [])]


def _refuse_overwrite(out_dir: Path, names: SampleNames, formats: tuple[str, ...], overwrite: bool) -> None:
    """Raises OverwriteError when `out_dir` holds one of the run's output names (a file, unless `overwrite`)."""
    if not out_dir.is_dir():
        return
    whole_set = {path.name for path in _set_files(out_dir, formats, names.conditional)}
    per_sample = [suffix for suffix in formats if suffix in ("png", "wav")]
    existing = []
    with os.scandir(out_dir) as entries:  # one pass over the folder, not one look-up per sample
        for entry in entries:
            if entry.name in whole_set or names.is_sample_file(entry.name, per_sample):
                if entry.is_dir():
                    raise OverwriteError(f"{out_dir / entry.name} is a folder where `sample` writes a file; move it "
                                         f"away or choose another --out (--overwrite replaces files only)")
                existing.append(entry.name)
    if existing and not overwrite:
        raise OverwriteError(f"{out_dir} already holds {listed(sorted(existing), 3)}; choose another --out or pass "
                             f"--overwrite")


def _write_metadata(out_dir: Path, model, names: SampleNames, seed: int, truncation: Optional[float],
                    formats, audio: Optional[dict]) -> None:
    representation = model.representation
    n = names.n
    labels = (Chunks(lambda: (names.labels(i, min(n, i + JSON_CHUNK)).tolist() for i in range(0, n, JSON_CHUNK)))
              if names.conditional else None)
    write_json(out_dir / SAMPLING_METADATA, {
        "spectrogen_version": __version__, "checkpoint": str(model.path) if model.path else None,
        "model": model.model_name, "n": n, "shape": [n, *model.shape], "seed": seed, "truncation": truncation,
        "class_names": list(model.class_names), "labels": labels, "formats": list(formats), "audio": audio,
        "sample_rate": getattr(representation, "sample_rate", None),
        "representation": representation.to_dict() if hasattr(representation, "to_dict") else None})
