"""PNG spectrogram images (seed 000): grayscale, read as values in [0, 1].

8-bit images are divided by 255 and 16-bit ones by 65535. An RGB(A) or palette image whose colour
channels are all equal is grayscale stored as colour and is accepted. A truly coloured image is
rejected: its colours come from a colour map, and no fixed formula turns a colour map back into
magnitudes. Images are flipped vertically, because the top row of a spectrogram picture is its
highest frequency and stored row 0 must be the lowest.
"""

from __future__ import annotations

from typing import Iterator, Optional

import numpy as np
from PIL import Image, UnidentifiedImageError

from spectrogen.data.skip import SkipFile
from spectrogen.data.sources.base import ArraySource, Item, list_class_files


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


class PngFiles(ArraySource):
    """Grayscale PNG spectrograms in a folder, one class per first-level sub-folder."""

    def scan(self) -> list[Item]:
        return list_class_files(self.location, (".png",), "PNG spectrogram", self)

    def probe(self, item: Item) -> Optional[tuple[int, int]]:
        try:
            with Image.open(item.path) as image:  # reads the header only
                width, height = image.size
        except (OSError, UnidentifiedImageError, ValueError):
            return None
        return height, width

    def read(self, item: Item) -> Iterator[tuple[np.ndarray, None]]:
        try:
            with Image.open(item.path) as image:
                image.load()
                pixels = grayscale01(image)
        except (UnidentifiedImageError, ValueError) as exc:
            raise SkipFile(f"not a PNG image that can be decoded ({exc})") from None
        except OSError as exc:
            raise SkipFile(f"unreadable or truncated image ({exc})") from None
        yield np.ascontiguousarray(pixels[::-1])[None], None  # (1, F, T), row 0 = bottom = lowest frequency
