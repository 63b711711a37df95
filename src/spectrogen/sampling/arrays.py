"""Check and reshape arrays of spectrograms into one stack of 2-D images (frequency on axis -2, time last).

Accepted: (N, 1, H, W) as `sample` and training write them; (N, H, W), always N spectrograms (a (3, H, W)
array is three, never one RGB image); (H, W), one. Refused: more than one channel (pick one with
`array[:, c]`), 1 or 5+ dimensions, empty, non-numeric or complex arrays, NaN or infinite values.
"""

from __future__ import annotations

import numpy as np

from spectrogen.errors import InputError


def as_spectrogram_stack(array, source=None) -> np.ndarray:
    """Returns `array` as a float32 (N, H, W) stack; raises InputError naming `source` when it is not one."""
    if hasattr(array, "detach"):  # a torch tensor; checked by duck type so that `convert` never imports torch
        array = array.detach().cpu().numpy()
    array = np.asarray(array)
    if array.dtype.kind == "c":
        raise InputError("holds complex values; save magnitudes (np.abs) or log magnitudes instead", source)
    if array.dtype.kind not in "iuf":
        raise InputError(f"holds {array.dtype} data, not numbers; expected a float array of spectrograms", source)
    if array.ndim == 2:
        array = array[None]
    elif array.ndim == 4:
        if array.shape[1] != 1:
            raise InputError(
                f"has shape {array.shape}: (N, C, H, W) with C={array.shape[1]} channels; spectrograms have "
                f"one channel; select one first, e.g. array[:, 0]", source,
            )
        array = array[:, 0]
    elif array.ndim != 3:
        raise InputError(
            f"has {array.ndim} dimensions, shape {array.shape}; expected (N, 1, H, W), (N, H, W) or (H, W)", source
        )
    if array.size == 0:
        raise InputError(f"is empty (shape {array.shape}); there is nothing to draw", source)
    if not np.isfinite(array).all():
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise InputError(f"holds {bad} NaN or infinite values; a spectrogram must be finite", source)
    return array.astype(np.float32, copy=False)


def load_spectrogram_file(path) -> np.ndarray:
    """Returns the (N, H, W) float32 stack stored in a `.npy` file; raises InputError naming the file when it is not one."""
    try:
        # allow_pickle=False: an object array could run code while loading
        array = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InputError("no such file", path) from None
    except IsADirectoryError:
        raise InputError("is a folder; give a .npy file, or use --batch-convert for a folder", path) from None
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise InputError("holds Python objects (a pickled array), not numbers; it is not read", path) from None
        raise InputError(f"is not a readable .npy array ({exc})", path) from None
    except (OSError, EOFError) as exc:
        raise InputError(f"is not a readable .npy array ({exc})", path) from None
    if not isinstance(array, np.ndarray):
        array.close()
        raise InputError("is an .npz archive, not a single .npy array; save one array with np.save", path)
    return as_spectrogram_stack(array, path)
