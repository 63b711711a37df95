"""Training batches from a prepared data set, mapped to the model's inputs on the device: held there whole where
it fits (`data.on_device`), else streamed from features.npy. Both draw the same examples in an order that is a
function of (seed, epoch) only, so a resumed run draws the batches the uninterrupted one would."""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np
import torch

from spectrogen.config.schema import ExperimentConfig
from spectrogen.data.dataset import SpectrogramDataset
from spectrogen.errors import ConfigError, InputError
from spectrogen.spectral.augment import Augment
from spectrogen.spectral.mapping import FeatureMapping
from spectrogen.training.distributed import SINGLE, Processes
from spectrogen.data.info import Batch, DataInfo

# share of free device memory (or available RAM) the data set may take with data.on_device=auto
MEMORY_BUDGET = 0.25
# examples normalised per chunk while moving the data set to the device
CHUNK_BYTES = 64 * 2**20


def open_dataset(path: Optional[str]):
    """Returns the `SpectrogramDataset` at `path`; errors say how to make one."""
    if not path:
        raise ConfigError("data.path is not set: give --data DATA, a folder made by "
                          "`spectrogen prepare SRC --out DATA`")
    folder = Path(path)
    if not folder.is_dir():
        raise InputError("no such data set folder; make one with `spectrogen prepare SRC --out "
                         f"{path}` or check --data", folder)
    return SpectrogramDataset.open(folder)


def data_info(dataset, config: ExperimentConfig) -> DataInfo:
    """Returns one example's (C, H, W) at the model's size and the class names (a dry run: model.num_classes)."""
    if dataset is None:
        classes = [f"class_{i}" for i in range(config.model.num_classes or 0)]
        return DataInfo(shape=(config.model.channels, config.model.height, config.model.width), class_names=classes)
    if config.model.channels != 1:
        raise ConfigError(f"model.channels={config.model.channels}, but prepared data sets hold "
                          f"single-channel spectrograms: set model.channels=1")
    return DataInfo(shape=(1, config.model.height, config.model.width), class_names=list(dataset.class_names))


def epoch_order(seed: int, epoch: int, count: int) -> np.ndarray:
    """Returns the permutation of `count` training examples for `epoch` (a function of seed and epoch)."""
    return np.random.default_rng([seed, epoch, 0x5EED]).permutation(count)


def balanced_epoch_order(seed: int, epoch: int, labels: np.ndarray) -> np.ndarray:
    """Returns positions into `labels` for `epoch` drawing every class equally often (small classes repeat examples)."""
    rng = np.random.default_rng([seed, epoch, 0xBA1A])
    classes = np.unique(labels)
    share = -(-len(labels) // len(classes))  # ceil
    draws = []
    for label in classes:
        members = np.flatnonzero(labels == label)
        repeats = -(-share // len(members))
        draws.append(np.concatenate([rng.permutation(members) for _ in range(repeats)])[:share])
    order = np.concatenate(draws)
    return order[rng.permutation(len(order))][: len(labels)]


def split_indices(count: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Returns (train, validation) example indices, each sorted; validation is `fraction` of `count`."""
    if fraction <= 0:
        return np.arange(count), np.arange(0)
    held_out = min(count - 1, max(1, round(count * fraction)))
    order = np.random.default_rng([seed, 0xA11D]).permutation(count)
    return np.sort(order[held_out:]), np.sort(order[:held_out])


def available_memory_bytes(device: torch.device) -> int:
    """Returns the memory free for data on `device`: free GPU memory, or available RAM on the CPU."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])  # (free, total)
    with suppress(OSError), open("/proc/meminfo", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


class RowReader:
    """Returns rows (examples) of a (N, F, T) float32 array by positional file reads (`os.preadv`) where possible:
    indexing an `np.memmap` maps every page it touches, so after one epoch the whole file would count as resident
    memory instead of about one batch."""

    def __init__(self, features: np.ndarray):
        self.shape = tuple(int(s) for s in features.shape)
        self.path: Optional[str] = getattr(features, "filename", None)
        self.offset = int(getattr(features, "offset", 0))
        # native-order float32 files only ('>f4' differs); anything else, or an in-memory array, is indexed
        readable = (self.path is not None and hasattr(os, "preadv") and features.dtype == np.dtype(np.float32)
                    and features.flags.c_contiguous)
        self._array: Optional[np.ndarray] = None if readable else features
        self._descriptor: Optional[int] = None
        self.row_bytes = 4 * int(np.prod(self.shape[1:]))

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, indices: np.ndarray) -> np.ndarray:
        return self.read(indices)  # a batch for a DataLoader given index arrays as its sampler

    def __getstate__(self) -> dict[str, Any]:
        # a DataLoader worker opens the file itself: descriptors do not travel between processes
        state = dict(self.__dict__)
        state["_descriptor"] = None
        return state

    def __del__(self) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)

    def _fd(self) -> int:
        if self._descriptor is None:
            self._descriptor = os.open(self.path, os.O_RDONLY)
        return self._descriptor

    def read(self, indices: np.ndarray) -> np.ndarray:
        """Returns the rows at `indices`, in that order, as a new (len(indices), F, T) float32 array."""
        indices = np.asarray(indices, dtype=np.int64)
        if self._array is not None:
            return np.ascontiguousarray(self._array[indices], dtype=np.float32)
        if len(indices) and (indices.min() < 0 or indices.max() >= self.shape[0]):
            raise IndexError(f"row index out of range 0..{self.shape[0] - 1}")
        out = np.empty((len(indices), *self.shape[1:]), dtype=np.float32)
        rows = memoryview(out.reshape(-1)).cast("B")  # the rows' bytes, one after another
        descriptor = self._fd()
        for position, index in enumerate(indices.tolist()):
            self._read_into(descriptor, rows[position * self.row_bytes:(position + 1) * self.row_bytes],
                            self.offset + index * self.row_bytes)
        return out

    def read_range(self, start: int, stop: int) -> np.ndarray:
        """Returns rows start..stop-1 as a new float32 array (one read for the whole range)."""
        stop = min(stop, self.shape[0])
        if self._array is not None:
            return np.array(self._array[start:stop], dtype=np.float32)
        out = np.empty((max(0, stop - start), *self.shape[1:]), dtype=np.float32)
        if len(out):
            self._read_into(self._fd(), memoryview(out.reshape(-1)).cast("B"), self.offset + start * self.row_bytes)
        return out

    def _read_into(self, descriptor: int, target: memoryview, position: int) -> None:
        done = 0
        while done < len(target):  # preadv may return fewer bytes than asked (large reads, signals)
            count = os.preadv(descriptor, [target[done:]], position + done)
            if count <= 0:
                raise OSError(f"{self.path}: file ends before row data at byte {position + done}")
            done += count


class TrainingData:
    """The batches of one run: a seeded train/validation split, the mapping to model inputs, augmentation."""

    def __init__(self, dataset, config: ExperimentConfig, device: torch.device, *, validation: bool,
                 processes: Processes = SINGLE):
        self.config = config
        self.device = device
        self.processes = processes
        self.batch_size = config.training.batch_size  # per process
        self.global_batch = self.batch_size * processes.world_size
        self.seed = config.training.seed
        self.features = dataset.features  # (N, F, T) memory map, un-normalised
        self.reader = RowReader(self.features)
        self.class_names = list(dataset.class_names)
        self.representation = dataset.representation
        self.path = Path(config.data.path)
        self.notes: list[str] = []
        count = int(self.features.shape[0])
        self.shape = (1, config.model.height, config.model.width)  # (C, H, W)

        fraction = config.data.validation_fraction if validation else 0.0
        self.train_indices, self.validation_indices = split_indices(count, fraction, self.seed)
        self._check_size(count)
        self.mapping = FeatureMapping.of_dataset(dataset, config.data.normalization, self.shape[1:]).to(device)
        self.normalizer = self.mapping.data_normalizer  # the data set's, as checkpoints save it
        augment = Augment(config.data.augment)
        self.augment = augment.to(device) if augment.enabled else None
        note = self.mapping.note()
        if note:
            self.notes.append(note)
        self._labels = torch.from_numpy(np.asarray(dataset.labels, dtype=np.int64)).to(device)  # (N,)
        self._train_labels = np.asarray(dataset.labels, dtype=np.int64)[self.train_indices]
        balanced = config.model.name == "cgan" if config.data.class_balanced is None else config.data.class_balanced
        self.class_balanced = bool(balanced) and len(self.class_names) > 1
        if self.class_balanced:
            counts = np.bincount(self._train_labels, minlength=len(self.class_names))
            if counts.max() > counts.min():
                self.notes.append(f"class-balanced batches: every class drawn equally often (the classes hold "
                                  f"{counts.min()} to {counts.max()} training examples; data.class_balanced=false "
                                  "draws them as they come)")
        mode = config.data.on_device
        # every process holds its own copy: on the CPU those copies share one memory
        sharing = processes.local_world_size if device.type == "cpu" else 1
        if mode == "auto":
            needed = count * int(np.prod(self.shape)) * 4 * sharing  # float32 bytes
            self.on_device = needed <= MEMORY_BUDGET * available_memory_bytes(device)
        else:
            self.on_device = mode == "always"
        self._resident: Optional[torch.Tensor] = self._load_on_device() if self.on_device else None

    def _check_size(self, count: int) -> None:
        if count == 0:
            raise InputError("the data set holds 0 examples; prepare it again from a folder with audio "
                             "(or spectrogram) files", self.path)
        usable, world = len(self.train_indices), self.processes.world_size
        if usable < self.global_batch:
            split = f" ({usable} left for training after the validation split)" if len(self.validation_indices) else ""
            processes = f" x {world} processes" if self.processes.enabled else ""
            raise InputError(f"the data set holds {count} examples{split}, fewer than training.batch_size="
                             f"{self.batch_size}{processes}: lower --batch-size to at most {usable // world}, or "
                             "add data", self.path)

    def _load_on_device(self) -> torch.Tensor:
        count = int(self.features.shape[0])
        resident = torch.empty((count, *self.shape), device=self.device)  # (N, 1, H, W)
        chunk = max(1, CHUNK_BYTES // (4 * int(np.prod(self.mapping.data_shape))))
        for start in range(0, count, chunk):
            raw = torch.from_numpy(self.reader.read_range(start, start + chunk))  # (chunk, F, T)
            prepared = self._prepare(raw)  # (chunk, 1, H, W)
            # checked chunk by chunk: over the whole tensor the check's temporaries are as large as the data
            finite = torch.isfinite(prepared.flatten(1)).all(dim=1)
            if not bool(finite.all()):
                bad = start + int((~finite).nonzero()[0])
                raise InputError(f"example {bad} holds NaN or infinite values (after normalisation); "
                                 f"prepare the data set again", self.path / "features.npy")
            resident[start:start + chunk] = prepared
        return resident

    @torch.no_grad()
    def _prepare(self, raw: torch.Tensor) -> torch.Tensor:
        """Returns raw features (B, F, T) as model inputs (B, 1, H, W) on the device."""
        return self.mapping.to_model(raw.to(self.device, non_blocking=True))

    def _batch(self, indices: torch.Tensor, raw: Optional[torch.Tensor] = None) -> Batch:
        x = self._resident.index_select(0, indices) if raw is None else self._prepare(raw)  # (B, 1, H, W)
        y = self._labels.index_select(0, indices) if self.class_names else None  # (B,) int64
        return Batch(x=x, y=y)

    @property
    def steps_per_epoch(self) -> int:
        """Returns the number of full global batches per epoch (the last partial one is dropped)."""
        steps = len(self.train_indices) // self.global_batch
        limit = self.config.training.max_steps_per_epoch
        return min(steps, limit) if limit else steps

    def train_batches(self, epoch: int, start_step: int = 0) -> Iterator[Batch]:
        """Yields this process's training batches of `epoch` from `start_step` on, augmented on the device: step s
        of rank r is examples [s*G + r*B, s*G + (r+1)*B) of the epoch's order (G = B x processes)."""
        order = self.train_indices[balanced_epoch_order(self.seed, epoch, self._train_labels) if self.class_balanced
                                   else epoch_order(self.seed, epoch, len(self.train_indices))]
        steps = range(start_step, self.steps_per_epoch)
        first = self.processes.rank * self.batch_size
        chunks = [order[s * self.global_batch + first:s * self.global_batch + first + self.batch_size] for s in steps]
        for batch in self._batches(chunks):
            if self.augment is not None:
                batch.x = self.augment(batch.x)
            yield batch

    def validation_batches(self) -> Iterator[Batch]:
        """Yields the held-out examples in order, in batches; rank r of N processes takes batches r, r + N, ..."""
        indices = self.validation_indices
        chunks = [indices[s:s + self.batch_size] for s in range(0, len(indices), self.batch_size)]
        yield from self._batches(chunks[self.processes.rank::self.processes.world_size])

    def _batches(self, chunks: list[np.ndarray]) -> Iterator[Batch]:
        if not chunks:
            return
        # one host-to-device copy of the epoch's indices, sliced per batch (a copy per batch from pageable
        # memory would wait for the device every step)
        flat = torch.from_numpy(np.concatenate(chunks)).to(self.device)
        bounds = np.cumsum([0] + [len(chunk) for chunk in chunks])
        if self.on_device:
            for k in range(len(chunks)):
                yield self._batch(flat[bounds[k]:bounds[k + 1]])
            return
        # the reader gives whole batches (B, F, T), each worker opening the file itself; its own generator, or
        # the worker seed comes from the global stream and streamed runs differ from those held on the device
        loader = torch.utils.data.DataLoader(
            self.reader, sampler=chunks, batch_size=None,
            num_workers=self.config.data.num_workers, pin_memory=self.device.type == "cuda",
            generator=torch.Generator().manual_seed(self.seed))
        for k, raw in enumerate(loader):
            yield self._batch(flat[bounds[k]:bounds[k + 1]], raw)

    def examples(self, indices: np.ndarray) -> Batch:
        """Returns the examples at `indices` of the data set, normalised, without augmentation."""
        return next(self._batches([np.asarray(indices, dtype=np.int64)]))

    def reference_indices(self, count: int) -> np.ndarray:
        """Returns a fixed, seeded choice of `count` training examples (the real side of the collapse signal)."""
        pool = self.train_indices
        rng = np.random.default_rng([self.seed, 0xC011])
        return rng.choice(pool, size=count, replace=count > len(pool))

    def class_reference_indices(self, per_class: int) -> dict[int, np.ndarray]:
        """Returns, per class, a fixed, seeded choice of up to `per_class` of its training examples ({} unlabelled)."""
        if not self.class_names:
            return {}
        rng = np.random.default_rng([self.seed, 0xC1A5])
        chosen = {}
        for k in range(len(self.class_names)):
            pool = self.train_indices[self._train_labels == k]
            if len(pool) >= 2:
                chosen[k] = rng.choice(pool, size=min(per_class, len(pool)), replace=False)
        return chosen

    def description(self) -> dict[str, Any]:
        """Returns what checkpoints store about the data: the mapping's description, classes, path."""
        return {**self.mapping.description(), "class_names": list(self.class_names), "path": str(self.path)}
