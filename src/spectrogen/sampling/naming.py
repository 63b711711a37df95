"""The class label and file name of each sample of a run, made for a batch at a time, never for all n at once:
`sample_01`, ... or `<class>_01`, ... numbered within each class, zero-padded to the largest count's digits (2+)."""

from __future__ import annotations

import re
from collections.abc import Sequence as SequenceABC
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import torch

from spectrogen.models.conditional import balanced_labels, first_of_class


@dataclass(frozen=True)
class SampleNames:
    """The labels and file stems of `n` samples; `prefixes` has one entry per class ("sample" when unconditional)."""

    n: int
    prefixes: tuple[str, ...] = ("sample",)
    conditional: bool = False
    only_class: Optional[int] = None  # --class: every sample has this label

    @classmethod
    def of_model(cls, model, n: int, class_choice: Optional[str | int] = None) -> "SampleNames":
        """Returns the names of `n` samples of `model` (a LoadedGenerator), all of `class_choice` when given."""
        only = model.class_index(class_choice) if class_choice is not None else None  # refuses unknown classes
        if not model.conditional:
            return cls(n)
        return cls(n, file_safe(model.class_names or [str(i) for i in range(model.method.num_classes)]), True, only)

    def labels(self, start: int, stop: int) -> Optional[torch.Tensor]:
        """Returns the class labels (stop - start,) int64 of samples start..stop-1, None when unconditional."""
        if not self.conditional:
            return None
        if self.only_class is not None:
            return torch.full((stop - start,), self.only_class, dtype=torch.long)
        return balanced_labels(self.n, len(self.prefixes), start, stop)

    def first_of(self, label: int) -> int:
        """Returns the index of the first sample of class `label` (n when there is none)."""
        if not self.conditional or self.only_class is not None:
            return 0 if label == (self.only_class or 0) else self.n
        return first_of_class(self.n, len(self.prefixes), label)

    def count(self, label: int) -> int:
        """Returns how many of the n samples have class `label`."""
        if not self.conditional or self.only_class is not None:
            return self.n if label == (self.only_class or 0) else 0
        return self.first_of(label + 1) - self.first_of(label)

    @property
    def width(self) -> int:
        """The digits of every sample number."""
        return max(2, len(str(max(self.count(label) for label in range(len(self.prefixes))))))

    def names(self, start: int, stop: int) -> list[str]:
        """Returns the file stems of samples start..stop-1."""
        width = self.width
        labels = self.labels(start, stop)
        labels = [0] * (stop - start) if labels is None else labels.tolist()
        firsts = {label: self.first_of(label) for label in set(labels)}
        return [f"{self.prefixes[label]}_{i - firsts[label] + 1:0{width}d}"
                for i, label in zip(range(start, stop), labels)]

    def is_sample_file(self, file_name: str, suffixes: Sequence[str]) -> bool:
        """Returns whether `file_name` is the file of one of the n samples with one of `suffixes` (png, wav)."""
        stem, dot, suffix = file_name.rpartition(".")
        prefix, underscore, number = stem.rpartition("_")
        if not (dot and underscore and suffix in suffixes and prefix in self.prefixes):
            return False
        if len(number) != self.width or not (number.isascii() and number.isdigit()):
            return False
        label = self.prefixes.index(prefix) if self.conditional else self.only_class or 0
        return 1 <= int(number) <= self.count(label)


def file_safe(class_names: Sequence[str]) -> tuple[str, ...]:
    """Returns class names made safe as file name prefixes, distinct from one another."""
    safe = [re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or f"class{i}" for i, name in enumerate(class_names)]
    if len(set(safe)) < len(safe):  # two names that differ only in unsafe characters
        safe = [f"{i}_{name}" for i, name in enumerate(safe)]
    return tuple(safe)


@dataclass
class SampleFiles(SequenceABC):
    """The paths of the per-sample files written so far, then `extra` files; each path is made when asked for."""

    folder: Path
    names: SampleNames
    suffix: str
    written: int = 0  # samples 0..written-1 have their file
    extra: list[Path] = field(default_factory=list)

    def __len__(self) -> int:
        return self.written + len(self.extra)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        index = index + len(self) if index < 0 else index
        if not 0 <= index < len(self):
            raise IndexError(f"file {index} of {len(self)}")
        if index >= self.written:
            return self.extra[index - self.written]
        return self.folder / f"{self.names.names(index, index + 1)[0]}.{self.suffix}"
