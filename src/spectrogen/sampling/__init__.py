"""From a checkpoint to spectrograms, images and sound: `load_generator`, `generate` / `sample_batches`, `to_audio`,
`save_images` / `save_grid`, `write_samples` (`spectrogen sample`). Names other than `generate` are imported on first
use, so that one submodule does not import them all."""

from __future__ import annotations

import importlib

# bound here, after its submodule is loaded: importing `spectrogen.sampling.generate` sets the
# package's attribute `generate` to that module, so a lazily resolved function would be shadowed
from spectrogen.sampling.generate import generate

_EXPORTS = {name: f"spectrogen.sampling.{module}" for module, names in {
    "load": ("LoadedGenerator", "load_generator"), "generate": ("truncate_latents", "sample_batches"),
    "audio": ("to_audio", "set_level", "write_wav"), "images": ("save_images", "save_grid", "make_grid", "grid_shape"),
    "outputs": ("write_samples",)}.items() for name in names}

__all__ = ["generate", *_EXPORTS]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
