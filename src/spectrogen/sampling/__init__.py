"""From a checkpoint to spectrograms, images and sound.

    model = load_generator("runs/x/checkpoints/best_model.tar")
    x = generate(model, 16, seed=0)                                         # (16, 1, H, W)
    audio = to_audio(x, model.representation, model.normalizer, n_iter=32)  # (16, S)
    save_images(x, "out/", representation=model.representation)
    grid = make_grid(x)                                                     # one 2-D array

Names are imported on first use, so `spectrogen convert` does not pay for torch and the models.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "LoadedGenerator": "spectrogen.sampling.load",
    "load_generator": "spectrogen.sampling.load",
    "generate": "spectrogen.sampling.generate",
    "truncate_latents": "spectrogen.sampling.generate",
    "to_audio": "spectrogen.sampling.audio",
    "peak_normalize": "spectrogen.sampling.audio",
    "write_wav": "spectrogen.sampling.audio",
    "save_images": "spectrogen.sampling.images",
    "save_grid": "spectrogen.sampling.images",
    "make_grid": "spectrogen.sampling.images",
    "grid_shape": "spectrogen.sampling.images",
    "convert": "spectrogen.sampling.convert",
    "write_samples": "spectrogen.sampling.outputs",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
