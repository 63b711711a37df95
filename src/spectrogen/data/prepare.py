"""`prepare`: turn a folder of recordings or spectrogram files (or a built-in set) into a data set.

One streaming pass: each item is decoded, cut into windows and turned into features in batches
(recordings), or checked and copied (ready-made arrays); features, labels, the index and the
moments are written as they come, into a hidden staging folder that is renamed to `out` at the
end. Memory does not grow with the number of files. Problems with single files are recorded in
the summary; only an empty result is an error.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from tqdm import tqdm

from spectrogen.data.options import (DEFAULT_SILENCE_DB, MUSDB_STEMS, PrepareOptions, check_example_size,
                                     check_size_settings)
from spectrogen.data.output_folder import check_output, publish, staging_folder
from spectrogen.data.pipelines import array_examples, audio_examples, example_shape
from spectrogen.data.representation_choice import image_representation, named_representation
from spectrogen.data.sources import open_source
from spectrogen.data.slicing import choose_slicing
from spectrogen.data.sources.base import AudioSource
from spectrogen.data.summary import PrepareSummary
from spectrogen.data.writer import DatasetWriter
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
    """Returns the summary of building the data set folder `out` from `source`.

    `source` is a folder, a file, or ``builtin:engines`` / ``builtin:digits``. `representation` is
    a preset name (``specgan``, ``mel``, ``autoencoder``), a `Representation`, or None for the
    source's default (ready-made arrays are then stored as images of their own size); `settings`
    change its fields (e.g. ``{"sample_rate": 22050, "n_mels": 80}``). The other arguments are the
    fields of `PrepareOptions`, and the CLI flags of the same names. `workers` is the number of
    processes decoding recordings (None, 0 or 1: in this process); the data set
    is the same whatever it is.
    Raises InputError when no example could be made, OverwriteError when `out` is not empty and
    `overwrite` is False, UsageError for a size beyond its bound (`options.SIZE_LIMITS`); a failed
    run leaves `out` as it was.
    """
    started = time.perf_counter()
    if workers is not None and workers < 0:
        raise UsageError(f"--workers {workers}: use 0 or a positive number")
    check_size_settings(settings or {})
    # in-process decoding (with read-ahead threads) is the default: on a 2-core machine the worker
    # pool's extra copying cost more than the second core gave back (benchmarks/prepare.py)
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
        resolved, summary.slicing_reason = choose_slicing(reader, items, chosen.num_samples / chosen.sample_rate,
                                                          options.slicing)
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
    """Returns (representation, probed shape of each item, (F, T) of the examples as read).

    Recordings get the named preset (or the source's default). Ready-made arrays are images of
    the shape most files share, unless the user names what they are (e.g. ``specgan`` for CSV
    files of SpecGAN spectrograms, which can then be turned back into audio). The last two are
    None for recordings.
    """
    if isinstance(reader, AudioSource):
        chosen = _named(representation or reader.default_representation, settings)
        reader.window_seconds = chosen.duration
        return chosen, None, None
    if representation is not None:
        chosen = _named(representation, settings)
        return chosen, [reader.probe(item) for item in items], tuple(chosen.native_shape)
    shapes = [reader.probe(item) for item in items]
    native = example_shape(reader, items, shapes)
    return image_representation(native, settings), shapes, native


def _named(representation: Any, settings: Optional[Mapping[str, Any]]):
    """Returns the named (or given) representation with `settings`; raises UsageError for oversized examples."""
    chosen = named_representation(representation, settings)
    check_example_size(chosen)  # before any file is read: a preset's hop times --frames may be too long
    return chosen


def _describe(representation: Any) -> str:
    """Returns a short name of the representation for the summary."""
    if isinstance(representation, str):
        return representation
    return f"custom {getattr(representation, 'kind', '')}".strip()


def _nothing_made(summary: PrepareSummary) -> str:
    """Returns the message of a run that made no example, with the reasons of the first files."""
    reasons = "; ".join(f"{entry['file']}: {entry['reason']}" for entry in summary.skipped[:5])
    more = f" (and {len(summary.skipped) - 5} more)" if len(summary.skipped) > 5 else ""
    return f"no example could be made from its {summary.files_found} items. {reasons}{more}"
