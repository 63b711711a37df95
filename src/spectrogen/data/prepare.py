"""`prepare`: a folder of recordings or spectrogram files (or a built-in set) into a data set, in one streaming pass
into a staging folder renamed to `out` at the end: memory does not grow with the number of files. Problems with
single files are recorded in the summary; only an empty result is an error."""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from tqdm import tqdm

from spectrogen.data.options import (DEFAULT_SILENCE_DB, MUSDB_STEMS, PrepareOptions, check_size_settings,
                                     image_representation, named_representation)
from spectrogen.data.pipelines import PrepareSummary, array_examples, audio_examples, example_shape
from spectrogen.data.sources import open_source
from spectrogen.data.sources.base import AudioSource
from spectrogen.data.windowing import choose_slicing
from spectrogen.data.writer import DatasetWriter, check_output, publish, staging_folder
from spectrogen.errors import InputError, UsageError


def show_progress(quiet: bool) -> bool:
    """Returns whether to draw a progress bar: on a terminal, unless quiet or under CI."""
    return not quiet and sys.stderr.isatty() and not os.environ.get("CI")


def prepare(source: str | Path, out: str | Path, *, representation: Any = None,
            settings: Optional[Mapping[str, Any]] = None, kind: str = "auto",
            window_hop: Optional[float] = None, short: str = "pad",
            silence_db: Optional[float] = DEFAULT_SILENCE_DB, freq_axis: int = 0,
            stems: Sequence[str] = MUSDB_STEMS, split: str = "train", count: Optional[int] = None,
            seed: int = 0, limit: Optional[int] = None, slicing: str = "auto",
            max_windows_per_file: Optional[int] = None, overwrite: bool = False,
            quiet: bool = False, workers: Optional[int] = None) -> PrepareSummary:
    """Returns the summary of building the data set folder `out` from `source` (a folder, a file, or ``builtin:NAME``);
    a failed run leaves `out` as it was. `representation`: a preset name, a `Representation`, or None for the source's
    default (arrays: images of their own size), its fields changed by `settings` (e.g. ``{"n_mels": 80}``); the other
    arguments are `PrepareOptions` fields, and `workers` decoding processes (None, 0 or 1: this one) never change the
    data set. Raises InputError when no example could be made, OverwriteError when `out` is not empty."""
    started = time.perf_counter()
    if workers is not None and workers < 0:
        raise UsageError(f"--workers {workers}: use 0 or a positive number")
    check_size_settings(settings or {})
    # decoding in this process by default: a worker pool's copying can cost more than a core gives back
    workers = 1 if workers is None else workers
    options = PrepareOptions(window_hop=window_hop, short=short, silence_db=silence_db, freq_axis=freq_axis,
                             stems=tuple(stems), split=split, count=count, seed=seed, limit=limit,
                             slicing=slicing, max_windows_per_file=max_windows_per_file)
    reader = open_source(str(source), kind, options)
    out = Path(out).expanduser()
    check_output(out, reader.location, overwrite)
    items = reader.scan()

    chosen, shapes, native = _choose_representation(reader, items, representation, settings)
    shape = tuple(chosen.shape)

    summary = PrepareSummary(source=str(source), kind=reader.kind, out=str(out),
                             representation=_describe(representation or reader.default_representation),
                             files_found=len(items) + len(reader.rejected))
    for name, reason in reader.rejected:
        summary.skip(name, reason)
    summary.ignored = dict(reader.ignored)
    if isinstance(reader, AudioSource):
        resolved, summary.slicing_reason = choose_slicing(reader.duration, items,
                                                          chosen.num_samples / chosen.sample_rate, options.slicing)
        options = replace(options, slicing=resolved)  # dataset.json records what was done
        summary.slicing = resolved

    staging = staging_folder(out)
    writer = None
    try:
        writer = DatasetWriter(staging, shape, reader.class_names)
        with tqdm(total=len(items), unit="file", desc="prepare", disable=not show_progress(quiet),
                  file=sys.stderr, dynamic_ncols=True) as bar:
            if isinstance(reader, AudioSource):
                audio_examples(reader, items, chosen, options, writer, summary, bar.update, workers=workers)
            else:
                array_examples(reader, items, shapes, native, shape, options, writer, summary, bar.update)
        if writer.count == 0:
            raise InputError(_nothing_made(summary), reader.location or str(source))
        summary.examples = writer.count
        summary.limit_reached = limit is not None and writer.count >= limit
        summary.examples_per_class = writer.counts()
        summary.shape = [writer.count, *shape]
        summary.seconds = round(time.perf_counter() - started, 3)
        origin = {"location": str(source), "kind": reader.kind, "options": options.to_dict()}
        writer.finish(chosen.to_dict(), origin, summary.to_dict())
        publish(staging, out)
    except BaseException:
        if writer is not None:
            writer.abort()
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return summary


def _choose_representation(reader, items: list, representation: Any, settings: Optional[Mapping[str, Any]]):
    """Returns (representation, probed shape of each item, (F, T) of the examples as read; both None for recordings);
    arrays are images of the shape most share unless named (``specgan`` CSV files are audible)."""
    if isinstance(reader, AudioSource):
        chosen = named_representation(representation or reader.default_representation, settings)
        reader.window_seconds = chosen.duration
        return chosen, None, None
    if representation is not None:
        chosen = named_representation(representation, settings)
        return chosen, [reader.probe(item) for item in items], tuple(chosen.native_shape)
    shapes = [reader.probe(item) for item in items]
    native = example_shape(reader, items, shapes)
    return image_representation(native, settings), shapes, native


def _describe(representation: Any) -> str:
    if isinstance(representation, str):
        return representation
    return f"custom {getattr(representation, 'kind', '')}".strip()


def _nothing_made(summary: PrepareSummary) -> str:
    reasons = "; ".join(f"{entry['file']}: {entry['reason']}" for entry in summary.skipped[:5])
    more = f" (and {len(summary.skipped) - 5} more)" if len(summary.skipped) > 5 else ""
    return f"no example could be made from its {summary.files_found} items. {reasons}{more}"
