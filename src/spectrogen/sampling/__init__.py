"""From a checkpoint to spectrograms, images and sound.

    model = load_generator("runs/x/checkpoints/best_model.tar")
    x = generate(model, 16, seed=0)                                         # (16, 1, H, W)
    for batch in sample_batches(model, 10_000, seed=0, batch_size=64): ...  # (64, 1, H, W) at a time
    audio = to_audio(x, model.representation, model.normalizer, n_iter=32)  # (16, S)
    save_images(x, "out/", representation=model.representation)
    grid = make_grid(x)                                                     # one 2-D array

Other names are imported on first use, so that importing one submodule does not import them all.
The folder conversion is `spectrogen.sampling.convert.convert`.
"""

from __future__ import annotations

import importlib

# bound here, after its submodule is loaded: importing `spectrogen.sampling.generate` sets the
# package's attribute `generate` to that module, so a lazily resolved function would be shadowed
from spectrogen.sampling.generate import generate

_EXPORTS = {
    "LoadedGenerator": "spectrogen.sampling.load",
    "load_generator": "spectrogen.sampling.load",
    "truncate_latents": "spectrogen.sampling.generate",
    "sample_batches": "spectrogen.sampling.generate",
    "to_audio": "spectrogen.sampling.audio",
    "set_level": "spectrogen.sampling.audio",
    "write_wav": "spectrogen.sampling.audio",
    "save_images": "spectrogen.sampling.images",
    "save_grid": "spectrogen.sampling.images",
    "make_grid": "spectrogen.sampling.images",
    "grid_shape": "spectrogen.sampling.images",
    "write_samples": "spectrogen.sampling.outputs",
}

__all__ = ["generate", *_EXPORTS]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
