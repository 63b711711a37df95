"""`prepare`: a folder of recordings or spectrogram files (or a built-in set) into a data set, in one streaming pass
into a staging folder renamed to `out` at the end: memory does not grow with the number of files. Problems with
single files are recorded in the summary; only an empty result is an error."""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Mapping, Optional

from tqdm import tqdm

from spectrogen.data.options import PrepareOptions, check_size_settings, image_representation, named_representation
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
            settings: Optional[Mapping[str, Any]] = None, kind: str = "auto", overwrite: bool = False,
            quiet: bool = False, workers: Optional[int] = None, **options: Any) -> PrepareSummary:
    """Returns the summary of building the data set folder `out` from `source` (a folder, a file, or ``builtin:NAME``);
    a failed run leaves `out` as it was. `representation`: a preset name, a `Representation`, or None for the source's
    default (arrays: images of their own size), its fields changed by `settings` (e.g. ``{"n_mels": 80}``); `options`
    are `PrepareOptions` fields, and `workers` decoding processes (None, 0 or 1: this one) never change the data set.
    Raises InputError when no example could be made, OverwriteError when `out` is not empty."""
    started = time.perf_counter()
    if workers is not None and workers < 0:
        raise UsageError(f"--workers {workers}: use 0 or a positive number")
    check_size_settings(settings or {})
    # decoding in this process by default: a worker pool's copying can cost more than a core gives back
    workers = 1 if workers is None else workers
    options = PrepareOptions(**options)
    reader = open_source(str(source), kind, options)
    out = Path(out).expanduser()
    check_output(out, reader.location, overwrite)
    items = reader.scan()

    chosen, shapes, native = _choose_representation(reader, items, representation, settings)
    shape = tuple(chosen.shape)

    named = representation or reader.default_representation
    named = named if isinstance(named, str) else f"custom {getattr(named, 'kind', '')}".strip()
    summary = PrepareSummary(source=str(source), kind=reader.kind, out=str(out), representation=named,
                             ignored=dict(reader.ignored), files_found=len(items) + len(reader.rejected),
                             skipped=[{"file": name, "reason": reason} for name, reason in reader.rejected])
    if isinstance(reader, AudioSource):
        summary.slicing, summary.slicing_reason = choose_slicing(
            reader.duration, items, chosen.num_samples / chosen.sample_rate, options.slicing)
        options = replace(options, slicing=summary.slicing)  # dataset.json records what was done

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
            reasons = "; ".join(f"{entry['file']}: {entry['reason']}" for entry in summary.skipped[:5])
            more = f" (and {len(summary.skipped) - 5} more)" if len(summary.skipped) > 5 else ""
            raise InputError(f"no example could be made from its {summary.files_found} items. {reasons}{more}",
                             reader.location or str(source))
        summary.examples = writer.count
        summary.limit_reached = options.limit is not None and writer.count >= options.limit
        summary.examples_per_class = writer.counts()
        summary.shape = [writer.count, *shape]
        summary.seconds = round(time.perf_counter() - started, 3)
        origin = {"location": str(source), "kind": reader.kind, "options": options.to_dict()}
        writer.finish(chosen.to_dict(), origin, asdict(summary))
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

