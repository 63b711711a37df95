"""The sources that read files: folders of recordings and of CSV, `.npy` and PNG spectrograms (or one such file),
one class per first-level sub-folder; MUSDB18 and MNIST. Arrays have frequency on axis -2 (`--freq-axis 1`: the
other axis), lowest at row 0: pictures are stored bottom row first."""

from __future__ import annotations

import gzip
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import numpy as np
import soundfile
from PIL import Image, UnidentifiedImageError

from spectrogen.data.decode import SkipFile, ffmpeg_path, read_audio, read_ffmpeg_stream
from spectrogen.data.options import MUSDB_STEMS
from spectrogen.data.sources.base import ArraySource, AudioSource, Item, list_class_files, require_folder, visible
from spectrogen.errors import InputError

#: what libsndfile decodes here (mp3 needs libsndfile >= 1.1, which the soundfile wheels bundle)
AUDIO_SUFFIXES = (".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff")
#: examples of a large `.npy` file converted per slice
SLICE = 256
#: the fewest rows and columns of a spectrogram image: a single one has no frequency (time) axis
MIN_SIDE = 2
#: IDX type codes -> numpy dtypes (big-endian)
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
SPLIT_PREFIX = {"train": "train", "test": "t10k"}


class AudioFolder(AudioSource):
    """Recordings (wav, flac, ogg/opus, mp3, aiff via libsndfile), any rate and channels."""

    def scan(self) -> list[Item]:
        return list_class_files(self.location, AUDIO_SUFFIXES, "audio", self)

    def duration(self, item: Item) -> Optional[float]:
        try:
            return float(soundfile.info(str(item.path)).duration)
        except Exception:  # unreadable here: read() says why, later
            return None

    def read(self, item: Item, sample_rate: int) -> Iterator[np.ndarray]:
        return read_audio(item.path, sample_rate)


def _delimiter(first_line: str) -> Optional[str]:
    """Returns the delimiter of a CSV line (None: runs of whitespace)."""
    return next((candidate for candidate in (",", ";", "\t") if candidate in first_line), None)


class CsvFiles(ArraySource):
    """CSV spectrograms: one 2-D example per file, numbers only, no header, the delimiter sniffed from line one."""

    def scan(self) -> list[Item]:
        return list_class_files(self.location, (".csv", ".tsv"), "CSV spectrogram", self)

    def probe(self, item: Item) -> Optional[tuple[int, int]]:
        # rows x fields of the first line: cheap, and enough to find the shape most files share
        try:
            with open(item.path, "r", encoding="utf-8", errors="replace") as handle:
                first = handle.readline()
                rows = (1 if first.strip() else 0) + sum(1 for line in handle if line.strip())
        except OSError:
            return None
        shape = (rows, len(first.split(_delimiter(first))) if first.strip() else 0)
        return shape[::-1] if self.options.freq_axis == 1 else shape

    def read(self, item: Item) -> Iterator[tuple[np.ndarray, None]]:
        try:
            with open(item.path, encoding="utf-8", errors="replace") as handle:
                delimiter = _delimiter(handle.readline())
            values = np.loadtxt(item.path, delimiter=delimiter, dtype=np.float64, ndmin=2, encoding="utf-8")
        except OSError as exc:
            raise SkipFile(f"unreadable: {exc.strerror or exc}") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise SkipFile(f"not a table of numbers ({str(exc).splitlines()[0]})") from None
        if values.size == 0:
            raise SkipFile("empty: no numbers")
        bad = ~np.isfinite(values)
        if bad.any():
            row, column = np.argwhere(bad)[0]
            raise SkipFile(f"{int(bad.sum())} values are NaN or infinite (first at row {row + 1}, column {column + 1})")
        yield (values.T if self.options.freq_axis == 1 else values).astype(np.float32)[None], None  # (1, F, T)


def _open_npy(path) -> np.ndarray:
    """Returns the file as a read-only memory map (or array); raises SkipFile when it is not one."""
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except OSError as exc:
        raise SkipFile(f"unreadable: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise SkipFile(f"not a numeric .npy array ({exc})") from None
    except EOFError:  # numpy's word for a file of 0 bytes
        raise SkipFile("empty file (0 bytes), not a .npy array") from None


def as_examples(array: np.ndarray) -> np.ndarray:
    """Returns `array` viewed as (N, A, B); raises SkipFile for other shapes or non-numeric data."""
    if array.dtype.kind not in "biuf":
        raise SkipFile(f"dtype {array.dtype} is not a real number type")
    if array.ndim in (2, 3):
        return array[None] if array.ndim == 2 else array
    if array.ndim == 4 and array.shape[1] == 1:
        return array[:, 0]
    raise SkipFile(f"shape {tuple(array.shape)} is not (F, T), (N, F, T) or (N, 1, F, T)")


class NpyFiles(ArraySource):
    """`.npy` spectrograms, (F, T), (N, F, T) or (N, 1, F, T) per file, memory-mapped and read in slices; examples
    holding NaN or infinities are dropped and counted."""

    def scan(self) -> list[Item]:
        return list_class_files(self.location, (".npy",), ".npy array", self)

    def probe(self, item: Item) -> Optional[tuple[int, int]]:
        try:
            shape = as_examples(_open_npy(item.path)).shape[1:]
        except SkipFile:
            return None
        return tuple(shape[::-1]) if self.options.freq_axis == 1 else tuple(shape)

    def read(self, item: Item) -> Iterator[tuple[np.ndarray, None]]:
        examples = as_examples(_open_npy(item.path))  # (N, A, B)
        if len(examples) == 0:
            raise SkipFile("holds no examples (N = 0)")
        dropped = 0
        for start in range(0, len(examples), SLICE):
            chunk = np.asarray(examples[start:start + SLICE], dtype=np.float32)
            if self.options.freq_axis == 1:
                chunk = chunk.transpose(0, 2, 1)
            finite = np.isfinite(chunk).all(axis=(1, 2))
            dropped += int((~finite).sum())
            if finite.any():
                yield np.ascontiguousarray(chunk[finite]), None  # (n, F, T)
        if dropped == len(examples):
            raise SkipFile(f"all {dropped} examples hold NaN or infinite values")
        if dropped:
            raise SkipFile(f"{dropped} of {len(examples)} examples hold NaN or infinite values and were dropped")


def grayscale01(image: Image.Image) -> np.ndarray:
    """Returns the picture as an (H, W) float32 array in [0, 1], top row first; raises SkipFile if coloured."""
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    mode = image.mode
    if mode in ("1", "L", "LA"):
        return np.asarray(image.getchannel(0) if mode == "LA" else image.convert("L"), dtype=np.float32) / 255.0
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        values = np.asarray(image, dtype=np.float64)
        scale = 65535.0 if mode.startswith("I;16") or values.max() > 255 else 255.0
        return (values / scale).astype(np.float32)
    if mode in ("RGB", "RGBA"):
        rgb = np.asarray(image, dtype=np.float32)[..., :3]
        if not (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])):
            raise SkipFile("colour image: a colour map cannot be turned back into magnitudes; save spectrograms "
                           "as grayscale PNG (e.g. with `spectrogen convert`, or matplotlib's cmap='gray')")
        return rgb[..., 0] / 255.0
    raise SkipFile(f"unsupported PNG mode {mode!r}; use 8- or 16-bit grayscale")


@contextmanager
def _opened(path: Path) -> Iterator[Image.Image]:
    """Yields the image at `path`, only its header read; raises SkipFile when degenerate or a decompression bomb."""
    with warnings.catch_warnings():
        # PIL warns of images above its limit and refuses those above twice it: both are skipped below, naming
        # the file in the summary instead of printing a warning
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(path)
        except Image.DecompressionBombError as exc:
            raise SkipFile(f"too large to decode safely ({exc})") from None
    with image:
        height, width, limit = image.height, image.width, Image.MAX_IMAGE_PIXELS
        if min(height, width) < MIN_SIDE:
            raise SkipFile(f"degenerate image: {height} x {width} pixels (height x width); a spectrogram image needs "
                           f"at least {MIN_SIDE} rows (frequencies) and {MIN_SIDE} columns (frames)")
        if limit is not None and height * width > limit:
            raise SkipFile(f"too large to decode safely: {height} x {width} pixels is over the limit of {limit} "
                           f"(PIL.Image.MAX_IMAGE_PIXELS, its decompression-bomb guard)")
        yield image


class PngFiles(ArraySource):
    """Grayscale PNG spectrograms in [0, 1]; one-row or one-column images, or decompression bombs, are not read."""

    def scan(self) -> list[Item]:
        return list_class_files(self.location, (".png",), "PNG spectrogram", self)

    def probe(self, item: Item) -> Optional[tuple[int, int]]:
        try:
            with _opened(item.path) as image:  # reads the header only
                width, height = image.size
        except (OSError, UnidentifiedImageError, ValueError, SkipFile):
            return None  # unknown: read() says why, and the file does not choose the data set's shape
        return height, width

    def read(self, item: Item) -> Iterator[tuple[np.ndarray, None]]:
        try:
            with _opened(item.path) as image:  # checked before the pixels are decoded
                image.load()
                pixels = grayscale01(image)
        except (UnidentifiedImageError, ValueError) as exc:
            raise SkipFile(f"not a PNG image that can be decoded ({exc})") from None
        except OSError as exc:
            raise SkipFile(f"unreadable or truncated image ({exc})") from None
        # a copy, never the flipped view: torch refuses the negative stride numpy may keep
        yield pixels[::-1].copy()[None], None  # (1, F, T), row 0 = bottom = lowest frequency


def read_idx(path: Path) -> np.ndarray:
    """Returns the array stored in an IDX file (gzipped or not); raises InputError when malformed."""
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot read this IDX file ({exc})", path) from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise InputError("not an IDX file (bad magic number)", path)
    dims = raw[3]
    header = 4 + 4 * dims
    shape = tuple(int(d) for d in np.frombuffer(raw[4:header], dtype=">u4"))
    dtype = np.dtype(IDX_TYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(shape) != dims or len(raw) - header != expected:
        raise InputError(f"IDX header says shape {shape} ({expected} bytes) but {len(raw) - header} bytes follow", path)
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def find_idx(root: Path, prefix: str, kind: str) -> Path:
    """Returns the IDX file `<prefix>-<kind>-idx?-ubyte[.gz]` below `root`; raises InputError naming it."""
    stem = f"{prefix}-{kind}-idx{3 if kind == 'images' else 1}-ubyte"
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        found = sorted(root.rglob(name))
        if found:
            return found[0]
    raise InputError(f"holds no {stem} (or {stem}.gz); put the MNIST IDX files there", root)


class Mnist(ArraySource):
    """MNIST (or Fashion-MNIST), the split named by `--split`, from its IDX files (`train-*`, or `t10k-*` for the test
    split, gzipped or not) anywhere below a folder; never downloaded. Values in [0, 1], classes "0".."9"."""

    def scan(self) -> list[Item]:
        root = require_folder(self.location, "MNIST IDX files")
        prefix = SPLIT_PREFIX[self.options.split]
        images, labels = find_idx(root, prefix, "images"), find_idx(root, prefix, "labels")
        self._labels = read_idx(labels).astype(np.int64)
        self.class_names = [str(digit) for digit in range(int(self._labels.max(initial=9)) + 1)]
        return [Item(images.relative_to(root).as_posix(), 0, images, detail=labels)]

    def read(self, item: Item) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        images = read_idx(item.path)  # (N, H, W)
        if images.ndim != 3:
            raise SkipFile(f"image file has shape {images.shape}, not (N, H, W)")
        if len(images) != len(self._labels):
            raise SkipFile(f"{len(images)} images but {len(self._labels)} labels in {item.detail.name}")
        scale = 255.0 if images.dtype.kind == "u" else 1.0
        for start in range(0, len(images), 1024):
            chunk = images[start:start + 1024, ::-1].astype(np.float32) / scale  # (n, H, W), bottom row first
            yield chunk, self._labels[start:start + 1024]


def looks_like_tracks(folder: Path) -> bool:
    """Returns whether `folder` directly holds MUSDB18 tracks (HQ track folders or .stem.mp4 files)."""
    return any(folder.glob("*/mixture.wav")) or any(folder.glob("*.stem.mp4"))


def is_musdb(folder: Path) -> bool:
    """Returns whether `folder` looks like a MUSDB18 root or split folder (for --kind auto)."""
    return any(looks_like_tracks(folder / split) for split in ("train", "test")) or looks_like_tracks(folder)


class Musdb(AudioSource):
    """MUSDB18, one class per stem (`--stems`), one split (`--split`) of ROOT (or ROOT that split): MUSDB18-HQ's
    `<split>/<track>/<stem>.wav`, or MUSDB18's `<split>/<track>.stem.mp4`, streams in MUSDB_STEMS order (ffmpeg)."""

    default_representation = "autoencoder"

    def scan(self) -> list[Item]:
        root = require_folder(self.location, "MUSDB18 tracks")
        split = self.options.split
        tracks_dir = root / split if (root / split).is_dir() else root  # ROOT itself when it holds the tracks
        if tracks_dir == root and not looks_like_tracks(root):
            raise InputError(f"has no {split}/ folder of tracks; expected MUSDB18 as ROOT/{split}/<track>/mixture.wav "
                             f"(MUSDB18-HQ) or ROOT/{split}/<track>.stem.mp4", root)
        self.class_names = list(self.options.stems)
        items = []
        for track in sorted(p for p in tracks_dir.iterdir() if p.is_dir() and visible(p, tracks_dir)):
            for label, stem in enumerate(self.options.stems):
                path = track / f"{stem}.wav"
                if path.is_file():
                    items.append(Item(path.relative_to(root).as_posix(), label, path))
                else:
                    self.rejected.append((path.relative_to(root).as_posix(), f"track has no {stem}.wav"))
        stem_files = sorted(p for p in tracks_dir.glob("*.stem.mp4") if visible(p, tracks_dir))
        if stem_files:
            ffmpeg_path()  # fail at once, not once per file, when ffmpeg is missing
        items += [Item(f"{path.relative_to(root).as_posix()}#{stem}", label, path, detail=MUSDB_STEMS.index(stem))
                  for path in stem_files for label, stem in enumerate(self.options.stems)]
        if not items:
            raise InputError(f"holds no tracks with the stems {', '.join(self.options.stems)} "
                             f"(looked for <track>/<stem>.wav and <track>.stem.mp4)", tracks_dir)
        return items

    def read(self, item: Item, sample_rate: int) -> Iterator[np.ndarray]:
        if item.detail is None:
            return read_audio(item.path, sample_rate)
        return read_ffmpeg_stream(item.path, item.detail, sample_rate)
