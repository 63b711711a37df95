"""`spectrogen sample` as a function: generate N samples and write them to a folder.

DIR/samples.npy      (N, 1, H, W) float32, the data's normalised range (always written)
DIR/labels.npy       (N,) int64 class indices (conditional models)
DIR/sampling.json    what made them: checkpoint, seed, truncation, classes, representation
DIR/<name>.png       one labelled image per sample, and DIR/grid.png      (format png)
DIR/<name>.wav       16-bit PCM at the representation's rate, at the data's level (format wav; see
                     `loudness` and spectrogen.sampling.audio.LOUDNESS_MODES)

<name> is `sample_01`, ... or, for conditional models, `<class>_01`, ... numbered within each class.
Nothing in DIR is replaced unless `overwrite`; the check happens before any sample is generated.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from spectrogen import __version__
from spectrogen.errors import OverwriteError, UsageError
from spectrogen.sampling.audio import (DEFAULT_LOUDNESS, check_audible, check_loudness, decibels, rms_level,
                                      set_level, to_audio, write_wav)
from spectrogen.sampling.convert import SAMPLING_METADATA
from spectrogen.sampling.generate import balanced_labels, generate, new_seed, truncation_note
from spectrogen.sampling.images import save_grid, save_images
from spectrogen.spectral.griffin_lim import check_init

FORMATS = ("npy", "png", "wav")


@dataclass
class SampleResult:
    """What `write_samples` wrote, and notes for the user (e.g. an ignored option)."""

    out_dir: Path
    samples: Path
    images: list[Path] = field(default_factory=list)
    audio: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    levels_dbfs: list[float] = field(default_factory=list)  # RMS of each .wav file
    seconds_of_audio: float = 0.0
    wall_seconds: float = 0.0


def parse_formats(text: str | Sequence[str]) -> tuple[str, ...]:
    """Returns the output formats named in `text` ("npy,png,wav"); npy is always included."""
    names = text.split(",") if isinstance(text, str) else list(text)
    formats = {name.strip().lower() for name in names if name.strip()}
    unknown = formats - set(FORMATS)
    if unknown:
        raise UsageError(f"--format {','.join(sorted(unknown))}: choose from {','.join(FORMATS)} (comma-separated)")
    return tuple(f for f in FORMATS if f in formats | {"npy"})


def file_names(labels: Optional[torch.Tensor], class_names: Sequence[str], n: int) -> list[str]:
    """Returns one file stem per sample: `sample_01`, ... or `<class>_01`, ... counted within each class."""
    if labels is None:
        width = max(2, len(str(n)))
        return [f"sample_{i + 1:0{width}d}" for i in range(n)]
    safe = [re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or f"class{i}" for i, name in enumerate(class_names)]
    if len(set(safe)) < len(safe):  # two names that differ only in unsafe characters
        safe = [f"{i}_{name}" for i, name in enumerate(safe)]
    counts = np.bincount(labels.numpy(), minlength=len(safe))
    width = max(2, len(str(int(counts.max()))))
    seen = [0] * len(safe)
    names = []
    for label in labels.tolist():
        seen[label] += 1
        names.append(f"{safe[label]}_{seen[label]:0{width}d}")
    return names


def sample_labels(model, n: int, class_choice: Optional[str | int]) -> Optional[torch.Tensor]:
    """Returns the (n,) labels for `n` samples: all of one class, equal numbers per class, or None (unconditional)."""
    if class_choice is not None:
        return torch.full((n,), model.class_index(class_choice), dtype=torch.long)
    if not model.conditional:
        return None
    return balanced_labels(n, len(model.class_names) or int(model.method.num_classes))


def write_samples(model, out_dir, n: int, *, class_choice: Optional[str | int] = None,
                  formats: Sequence[str] = ("npy",), seed: Optional[int] = None, truncation: Optional[float] = None,
                  batch_size: int = 64, griffin_lim_iters: Optional[int] = None, overwrite: bool = False,
                  loudness: str = DEFAULT_LOUDNESS, phase_init: str = "pghi",
                  log: Callable[[str], None] = lambda _: None) -> SampleResult:
    """Returns what was written after generating `n` samples of `model` (a LoadedGenerator) into `out_dir`."""
    started = time.perf_counter()
    formats = parse_formats(formats)
    out_dir = Path(out_dir)
    if n < 1:
        raise UsageError(f"--n {n}: ask for at least one sample")
    if batch_size < 1:
        raise UsageError(f"--batch-size {batch_size}: use at least 1")
    if truncation is not None and not truncation > 0:
        raise UsageError(f"--truncation {truncation}: use a positive bound, e.g. 0.7 (smaller: less varied)")
    iterations = model.config.output.griffin_lim_iterations if griffin_lim_iters is None else griffin_lim_iters
    if iterations < 1:
        raise UsageError(f"--griffin-lim-iters {iterations}: use at least 1")
    if "wav" in formats:
        check_audible(model.representation, str(model.path or "this model"))
        check_loudness(loudness)
        check_init(phase_init)
    labels = sample_labels(model, n, class_choice)
    names = file_names(labels, model.class_names, n)
    planned = _planned_paths(out_dir, names, formats, labels is not None)
    _refuse_overwrite(planned, out_dir, overwrite)
    seed = new_seed() if seed is None else int(seed)
    result = SampleResult(out_dir=out_dir, samples=out_dir / "samples.npy")
    note = truncation_note(model.model_name, truncation)
    if note:
        result.notes.append(note)

    log(f"generating {n} sample(s) with {model.model_name} (seed {seed})")
    samples = generate(model, n, labels=labels, seed=seed, batch_size=batch_size,
                       truncation=truncation if note is None else None)  # (N, 1, H, W)
    out_dir.mkdir(parents=True, exist_ok=True)
    np.save(result.samples, samples.numpy().astype(np.float32))
    if labels is not None:
        np.save(out_dir / "labels.npy", labels.numpy().astype(np.int64))

    if "png" in formats:
        log("drawing images")
        captions = model.label_names(labels) if labels is not None else None
        result.images = save_images(samples, out_dir, names=names, representation=model.representation,
                                    value_label="normalised value")
        result.images.append(save_grid(samples, out_dir / "grid.png", representation=model.representation,
                                       captions=captions, value_label="normalised value"))
    if "wav" in formats:
        log(f"inverting to audio ({phase_init} phase, {iterations} Griffin-Lim iterations)")
        result.audio, result.levels_dbfs = _write_audio(model, samples, names, out_dir, iterations=iterations,
                                                        seed=seed, batch_size=batch_size, loudness=loudness,
                                                        phase_init=phase_init)
        result.seconds_of_audio = len(result.audio) * model.representation.duration
    audio_settings = ({"loudness": loudness, "phase_init": phase_init, "griffin_lim_iterations": iterations,
                       "rms_dbfs": result.levels_dbfs} if "wav" in formats else None)
    _write_metadata(out_dir, model, n, seed, truncation if note is None else None, labels, formats, audio_settings)
    result.wall_seconds = time.perf_counter() - started
    return result


def _write_audio(model, samples: torch.Tensor, names: list[str], out_dir: Path, *, iterations: int, seed: int,
                 batch_size: int, loudness: str, phase_init: str) -> tuple[list[Path], list[float]]:
    """Returns the .wav files written for samples (N, 1, H, W) and their RMS in dBFS, a batch at a time."""
    paths, levels = [], []
    for start in range(0, len(samples), batch_size):
        # the phases of each batch come from the run's seed: the same command gives the same files
        audio = to_audio(samples[start:start + batch_size], model.representation, model.normalizer,
                         n_iter=iterations, seed=seed + start, init=phase_init)  # (b, S)
        clips = set_level(audio, loudness)
        levels += [round(float(level), 1) for level in decibels(rms_level(clips))]
        for clip, name in zip(clips, names[start:start + batch_size]):
            paths.append(write_wav(out_dir / f"{name}.wav", clip, model.representation.sample_rate))
    return paths, levels


def _planned_paths(out_dir: Path, names: list[str], formats: tuple[str, ...], conditional: bool) -> list[Path]:
    paths = [out_dir / "samples.npy", out_dir / SAMPLING_METADATA]
    if conditional:
        paths.append(out_dir / "labels.npy")
    if "png" in formats:
        paths += [out_dir / f"{name}.png" for name in names] + [out_dir / "grid.png"]
    if "wav" in formats:
        paths += [out_dir / f"{name}.wav" for name in names]
    return paths


def _refuse_overwrite(planned: list[Path], out_dir: Path, overwrite: bool) -> None:
    if overwrite:
        return
    existing = [p for p in planned if p.exists()]
    if existing:
        shown = ", ".join(p.name for p in existing[:3]) + (f" and {len(existing) - 3} more" if len(existing) > 3 else "")
        raise OverwriteError(f"{out_dir} already holds {shown}; choose another --out or pass --overwrite")


def _write_metadata(out_dir: Path, model, n: int, seed: int, truncation: Optional[float],
                    labels: Optional[torch.Tensor], formats, audio: Optional[dict]) -> None:
    representation = model.representation
    record = {
        "spectrogen_version": __version__,
        "checkpoint": str(model.path) if model.path else None,
        "model": model.model_name,
        "n": n,
        "shape": [n, *model.shape],
        "seed": seed,
        "truncation": truncation,
        "class_names": list(model.class_names),
        "labels": labels.tolist() if labels is not None else None,
        "formats": list(formats),
        "audio": audio,
        "sample_rate": getattr(representation, "sample_rate", None),
        "representation": representation.to_dict() if hasattr(representation, "to_dict") else None,
    }
    (out_dir / SAMPLING_METADATA).write_text(json.dumps(record, indent=2), encoding="utf-8")
