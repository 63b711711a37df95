"""Grayscale PNG spectrograms as values in [0, 1], flipped so that row 0 is the lowest frequency.

Colour images are refused unless all channels are equal (no formula turns a colour map back into
magnitudes); images of one row or column, or above PIL's decompression-bomb limit, are skipped unread.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import numpy as np
from PIL import Image, UnidentifiedImageError

from spectrogen.data.skip import SkipFile
from spectrogen.data.sources.base import ArraySource, Item, list_class_files

#: the fewest rows and columns of a spectrogram image: a single one has no frequency (time) axis
MIN_SIDE = 2


def grayscale01(image: Image.Image) -> np.ndarray:
    """Returns the picture as an (H, W) float32 array in [0, 1], top row first; raises SkipFile if coloured."""
    mode = image.mode
    if mode == "P":
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
            raise SkipFile(
                "colour image: a colour map cannot be turned back into magnitudes; save spectrograms "
                "as grayscale PNG (e.g. with `spectrogen convert`, or matplotlib's cmap='gray')"
            )
        return rgb[..., 0] / 255.0
    raise SkipFile(f"unsupported PNG mode {mode!r}; use 8- or 16-bit grayscale")


@contextmanager
def _opened(path: Path) -> Iterator[Image.Image]:
    """Yields the image at `path` with only its header read; raises SkipFile when its size is degenerate or a
    decompression bomb."""
    with warnings.catch_warnings():
        # PIL warns of images above its limit and refuses those above twice it: `check_size`
        # skips both, naming the file in the summary instead of printing a warning
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(path)
        except Image.DecompressionBombError as exc:
            raise SkipFile(f"too large to decode safely ({exc})") from None
    with image:
        check_size(image.height, image.width)
        yield image


def check_size(height: int, width: int) -> None:
    """Raises SkipFile unless a picture of `height` x `width` pixels can be decoded as a spectrogram."""
    if min(height, width) < MIN_SIDE:
        raise SkipFile(f"degenerate image: {height} x {width} pixels (height x width); a spectrogram image needs "
                       f"at least {MIN_SIDE} rows (frequencies) and {MIN_SIDE} columns (frames)")
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and height * width > limit:
        raise SkipFile(f"too large to decode safely: {height} x {width} pixels is over the limit of {limit} "
                       f"(PIL.Image.MAX_IMAGE_PIXELS, its decompression-bomb guard)")


class PngFiles(ArraySource):
    """Grayscale PNG spectrograms in a folder, one class per first-level sub-folder."""

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
