"""The two ways examples reach the writer: recordings -> windows -> batched features, or ready arrays. Both go item
by item, record every problem in the `PrepareSummary` (`summary.json`), and stop at `--limit` examples."""

from __future__ import annotations

import os
import sys
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from functools import partial
from typing import Callable, Iterator, Optional

import numpy as np
import torch

from spectrogen.data.decode import SkipFile, finite_chunks
from spectrogen.data.options import PrepareOptions
from spectrogen.data.read_ahead import default_workers, processes_available, read_ahead, read_processes
from spectrogen.data.sources.base import ArraySource, AudioSource, Item, conversion_hint, describe_files
from spectrogen.data.windowing import OnsetSlicer, WindowBlock, WindowCounts, Windower
from spectrogen.data.writer import DatasetWriter
from spectrogen.errors import InputError
from spectrogen.spectral.griffin_lim import intra_op_threads
from spectrogen.spectral.resize import resize

#: windows turned into features at once: big enough to amortise the STFT call, small in memory
BATCH_WINDOWS = 64
#: about the most memory one batch of features (every preset fits BATCH_WINDOWS), and the resized
#: examples written at once, may take
BATCH_BYTES = 512 << 20
RESIZE_BYTES = 256 << 20
#: threads decoding recordings while the main thread computes features (in-process)
DECODE_WORKERS = max(1, min(4, os.cpu_count() or 1))
#: blocks each decoding process may have waiting for the main process
PROCESS_DEPTH = 8
#: how far decoding threads may run ahead: recordings, and bytes of decoded windows waiting (threads
#: only a few recordings ahead sit idle while a batch of features is computed)
ITEMS_AHEAD = 64
BYTES_AHEAD = 16 << 20
#: skipped files listed one per line when printing; the rest are counted (all are in summary.json)
PRINTED_PROBLEMS = 20


@dataclass
class PrepareSummary:
    """The account of one `prepare` run; `summary.json` holds its fields."""

    source: str
    kind: str
    out: str
    representation: str = ""
    files_found: int = 0  # items the source listed (files, streams, generated clips)
    files_read: int = 0  # decoded without error
    files_used: int = 0  # contributed at least one example
    examples: int = 0  # examples written (windows of recordings, or ready-made examples)
    windows_silent: int = 0  # windows dropped as quieter than the silence threshold
    windows_short: int = 0  # partial windows dropped at the ends of recordings
    examples_per_class: dict[str, int] = field(default_factory=dict)
    files_per_class: dict[str, int] = field(default_factory=dict)  # files that gave an example
    slicing: str = ""  # recordings: "onset" (one example per file) or "windows"
    slicing_reason: str = ""
    shape: list[int] = field(default_factory=list)  # [N, F, T]
    skipped: list[dict[str, str]] = field(default_factory=list)  # {"file", "reason"}: nothing used
    notes: list[dict[str, str]] = field(default_factory=list)  # {"file", "note"}: used, with a remark
    ignored: dict[str, int] = field(default_factory=dict)  # files of other types in the folder, by suffix
    limit_reached: bool = False
    seconds: float = 0.0

    def skip(self, name: str, reason: str) -> None:
        self.skipped.append({"file": name, "reason": reason})

    def file_used(self, class_name: str) -> None:
        self.files_used += 1
        self.files_per_class[class_name] = self.files_per_class.get(class_name, 0) + 1

    def note(self, name: str, note: str) -> None:
        self.notes.append({"file": name, "note": note})

    def format(self) -> str:
        """Returns the summary as the lines printed at the end of `spectrogen prepare`."""
        lines = [f"prepared {self.out} from {self.source} ({self.kind}, representation {self.representation})",
                 f"  files: {self.files_found} found, {self.files_read} read, {self.files_used} used, "
                 f"{len(self.skipped)} skipped"]
        made = f"  examples: {self.examples}"
        if len(self.shape) == 3:
            made += f" of {self.shape[1]} x {self.shape[2]}"
        dropped = [f"{n} {what}" for n, what in ((self.windows_silent, "silent"), (self.windows_short, "short")) if n]
        if dropped:
            made += f"; windows dropped: {', '.join(dropped)}"
        if self.limit_reached:
            made += " (stopped at --limit)"
        lines.append(made)
        if self.ignored:
            lines.append(f"  ignored (not {self.kind} files): {describe_files(self.ignored)}"
                         f"{conversion_hint(self.ignored)}")
        if self.slicing:
            lines.append(f"  slicing: {self.slicing}: {self.slicing_reason}")
        per_class = self.examples_per_class.items()
        if any(self.examples_per_class) and self.files_per_class:
            lines.append("  classes (files -> examples): "
                         + ", ".join(f"{name} {self.files_per_class.get(name, 0)} -> {n}" for name, n in per_class))
        elif any(self.examples_per_class):
            lines.append("  classes: " + ", ".join(f"{name} {n}" for name, n in per_class))
        for title, entries, key in (("skipped", self.skipped, "reason"), ("notes", self.notes, "note")):
            if entries:
                lines.append(f"  {title}:")
                lines += [f"    {entry['file']}: {entry[key]}" for entry in entries[:PRINTED_PROBLEMS]]
                if len(entries) > PRINTED_PROBLEMS:
                    lines.append(f"    ... and {len(entries) - PRINTED_PROBLEMS} more (see summary.json)")
        lines.append(f"  took {self.seconds:.1f} s" if self.seconds >= 1 else f"  took {self.seconds:.2f} s")
        return "\n".join(lines)


class _FeatureBatcher:
    """Collects windows from several recordings and computes their features a batch at a time."""

    def __init__(self, representation, writer: DatasetWriter, batch: int, limit: Optional[int]):
        self.representation = representation
        self.writer = writer
        self.limit = sys.maxsize if limit is None else limit
        self.audio = np.zeros((batch, representation.num_samples), dtype=np.float32)  # (B, S)
        self.rows: list[tuple[int, str, float, int]] = []  # label, source, offset_s, item of each window held

    @property
    def full(self) -> bool:
        """Whether `--limit` examples are written or waiting."""
        return self.writer.count + len(self.rows) >= self.limit

    def add(self, block: WindowBlock, item: Item, first_window: int) -> int:
        """Queues the windows of `block` (as many as `--limit` allows); returns how many were taken."""
        taken = 0
        while taken < len(block.audio) and not self.full:
            filled = len(self.rows)
            n = min(len(self.audio) - filled, self.limit - self.writer.count - filled, len(block.audio) - taken)
            self.audio[filled:filled + n] = block.audio[taken:taken + n]
            self.rows += [(item.label, item.name, start / self.representation.sample_rate, first_window + taken + k)
                          for k, start in enumerate(block.starts[taken:taken + n].tolist())]
            taken += n
            if len(self.rows) == len(self.audio):
                self.flush()
        return taken

    def flush(self) -> None:
        if not self.rows:
            return
        with torch.no_grad():
            features = self.representation.features(torch.from_numpy(self.audio[:len(self.rows)]))  # (B, F, T)
        labels, sources, offsets, items = zip(*self.rows)
        self.writer.add(features, np.asarray(labels, dtype=np.int64), sources, offsets, items)
        self.rows = []


@dataclass
class _Decoded:
    """One step of reading recordings: a block of windows, or the end of an item (`done`)."""

    item: Item
    block: Optional[WindowBlock] = None
    counts: Optional[WindowCounts] = None  # set when done
    problem: Optional[str] = None  # why the item stopped early, when it did


def _decode_item(source: AudioSource, item: Item, windower: Windower, sample_rate: int) -> Iterator[_Decoded]:
    """Yields the window blocks of one item, then a `done` step with its counts (and problem)."""
    counts = WindowCounts()
    try:
        for block in windower.windows(finite_chunks(source.read(item, sample_rate)), counts):
            yield _Decoded(item, block=block)
    except SkipFile as problem:
        yield _Decoded(item, counts=counts, problem=problem.reason)
    else:
        yield _Decoded(item, counts=counts)


def audio_examples(source: AudioSource, items: list[Item], representation, options: PrepareOptions,
                   writer: DatasetWriter, summary: PrepareSummary, advance: Callable[[], None],
                   workers: int = 1) -> None:
    """Windows every recording, computes features batch by batch and writes them in the order of `items`, whatever
    decodes them (`workers` processes when > 1 and fork is available, else threads); fills `summary`."""
    window = representation.num_samples
    hop = window if options.window_hop is None else max(1, round(options.window_hop * representation.sample_rate))
    if options.slicing == "onset":
        windower = OnsetSlicer(window, representation.sample_rate, options.silence_db)
    else:
        windower = Windower(window, hop, options.short, options.silence_db, options.max_windows_per_file)
    batcher = _FeatureBatcher(representation, writer, batch_windows(representation), options.limit)
    taken = 0  # windows of the current item written so far
    decode = partial(_decode_item, source, windower=windower, sample_rate=representation.sample_rate)
    if workers > 1 and len(items) > 1 and processes_available():
        steps, decoders = read_processes(items, decode, workers=workers, depth=PROCESS_DEPTH), workers
    else:
        steps = read_ahead(items, decode, workers=DECODE_WORKERS, items_ahead=ITEMS_AHEAD, budget=BYTES_AHEAD,
                           size=lambda step: 0 if step.block is None else step.block.audio.nbytes)
        decoders = DECODE_WORKERS
    # torch on the cores the decoders leave free: a batch of features split over threads the decoders also need
    # costs more CPU than it saves (benchmarks/README.md); closing stops the workers at once on --limit or an error
    feature_threads = max(1, min(torch.get_num_threads(), default_workers() - decoders))
    with intra_op_threads(feature_threads), closing(steps):
        for step in steps:
            if step.block is not None:
                taken += batcher.add(step.block, step.item, taken)
                if not batcher.full:
                    continue
                step = _Decoded(step.item, counts=WindowCounts())  # --limit reached: the item counts as used
            _account(step, taken, summary, source.class_names, representation, options)
            advance()
            taken = 0
            if batcher.full:
                break
        batcher.flush()


def batch_windows(representation) -> int:
    """Returns how many windows to turn into features at once: BATCH_WINDOWS, or fewer for large windows."""
    bins = representation.n_fft // 2 + 1
    # the window's samples, then per frame its windowed segment, complex spectrum and magnitude
    per_window = 4 * representation.num_samples + 24 * bins * representation.frames
    return max(1, min(BATCH_WINDOWS, BATCH_BYTES // per_window))


def _account(step: _Decoded, taken: int, summary: PrepareSummary, class_names: list[str], representation,
             options: PrepareOptions) -> None:
    """Records in `summary` what became of the finished item of `step`, which gave `taken` windows."""
    name, counts = step.item.name, step.counts
    if step.problem is not None and not taken:
        summary.skip(name, step.problem)
        return
    if step.problem is not None:
        summary.note(name, f"{step.problem}; kept the {taken} windows made before")
    summary.files_read += 1
    summary.windows_silent += counts.silent
    summary.windows_short += counts.short
    if taken:
        summary.file_used(class_names[step.item.label] if class_names else "")
    else:
        summary.skip(name, _why_no_windows(counts, representation.num_samples, representation.sample_rate, options))


def _why_no_windows(counts: WindowCounts, window: int, sample_rate: int, options: PrepareOptions) -> str:
    if counts.silent and options.slicing == "onset":
        return f"silent: below {options.silence_db:g} dBFS from its onset (--silence-db)"
    if counts.silent:
        return f"silent: all {counts.silent} windows are below {options.silence_db:g} dBFS (--silence-db)"
    if options.slicing == "onset":
        return "empty: no samples"
    seconds, needed = counts.samples / sample_rate, window / sample_rate
    if options.short == "pad":
        return f"too short: {seconds:.2f} s is less than half a window ({needed / 2:.2f} s)"
    return f"too short: {seconds:.2f} s is less than one window ({needed:.2f} s) and --short is drop"


def example_shape(source: ArraySource, items: list[Item], shapes: list) -> tuple[int, int]:
    """Returns the (F, T) most `probe` results `shapes` share (ties: the first), else that of the first item
    that reads; raises InputError when none reads."""
    known = Counter(tuple(shape) for shape in shapes if shape is not None)
    if known:
        return known.most_common(1)[0][0]  # ties: the first seen
    reasons = []
    for item in items:
        try:
            for examples, _ in source.read(item):
                return tuple(examples.shape[1:])
        except SkipFile as problem:
            reasons.append(f"{item.name}: {problem.reason}")
    raise InputError("none of its files could be read. " + "; ".join(reasons[:5]), source.location)


def array_examples(source: ArraySource, items: list[Item], shapes: list, native: tuple[int, int],
                   shape: tuple[int, int], options: PrepareOptions, writer: DatasetWriter,
                   summary: PrepareSummary, advance: Callable[[], None]) -> None:
    """Writes the items' examples of shape `native`, resized to `shape` (other shapes are skipped); fills `summary`."""
    limit = sys.maxsize if options.limit is None else options.limit
    for item, probed in zip(items, shapes):
        if writer.count >= limit:
            break
        written = 0
        try:
            if probed is not None and tuple(probed) != tuple(native):
                raise SkipFile(_wrong_shape(probed, native))
            for examples, labels in source.read(item):  # (n, F, T), (n,) or None
                if examples.shape[1:] != tuple(native):
                    raise SkipFile(_wrong_shape(examples.shape[1:], native))
                examples = examples[:limit - writer.count]
                n = len(examples)
                labels = np.full(n, item.label, dtype=np.int64) if labels is None else labels[:n]
                _write_resized(writer, examples, labels, item.name, written, shape)
                written += n
                if writer.count >= limit:
                    break
        except SkipFile as problem:
            if not written:
                summary.skip(item.name, problem.reason)
                advance()
                continue
            summary.note(item.name, problem.reason)
        summary.files_read += 1
        summary.files_used += bool(written)
        advance()


def _write_resized(writer: DatasetWriter, examples: np.ndarray, labels: np.ndarray, name: str, first: int,
                   shape: tuple[int, int]) -> None:
    """Writes `examples` (n, F, T) of file `name`, numbered from `first`, resized to `shape` a few at a time."""
    step = max(1, RESIZE_BYTES // (4 * shape[0] * shape[1]))  # enlarging all at once could take many times the memory
    for start in range(0, len(examples), step):
        part = np.ascontiguousarray(examples[start:start + step], dtype=np.float32)
        n = len(part)
        writer.add(resize(torch.from_numpy(part), shape), labels[start:start + n], [name] * n, [""] * n,
                   range(first + start, first + start + n))  # (n, F, T)


def _wrong_shape(found, expected) -> str:
    return (f"wrong size: {found[0]} x {found[1]} (frequency x time), the data set's examples are "
            f"{expected[0]} x {expected[1]}")
