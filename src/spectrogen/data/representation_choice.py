"""Which `Representation` a data set gets: a named preset with the user's settings, or an image.

Settings are Representation field names (``sample_rate``, ``n_fft``, ``hop_length``, ``n_mels``,
``frames``, ``image_size``, ...); a value the representation refuses is a ConfigError naming the
field (exit code 2 on the command line).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from spectrogen.errors import UsageError
from spectrogen.spectral.representation import Representation


def _apply(base: Representation, settings: Optional[Mapping[str, Any]]) -> Representation:
    """Returns `base` with the fields in `settings` replaced (and everything re-validated)."""
    if not settings:
        return base
    fields = base.to_dict()
    unknown = sorted(set(settings) - set(fields))
    if unknown:
        raise UsageError(f"unknown representation field(s) {', '.join(unknown)}; known: {', '.join(sorted(fields))}")
    settings = dict(settings)
    if "n_fft" in settings and "win_length" not in settings and fields["win_length"] == fields["n_fft"]:
        settings["win_length"] = settings["n_fft"]  # a window as long as the FFT stays so
    return Representation.from_dict({**fields, **settings})


def named_representation(representation: Any, settings: Optional[Mapping[str, Any]] = None) -> Representation:
    """Returns the preset named `representation` (or the Representation / dict given), with `settings` applied."""
    if isinstance(representation, Representation):
        base = representation
    elif isinstance(representation, str):
        base = Representation.preset(representation)
    else:
        base = Representation.from_dict(dict(representation))
    return _apply(base, settings)


def image_representation(shape: tuple[int, int], settings: Optional[Mapping[str, Any]] = None) -> Representation:
    """Returns the representation of ready-made 2-D examples of `shape` (F, T): kind ``image``.

    An ``image_size`` in `settings` is the size the examples are resized to.
    """
    settings = dict(settings or {})
    size = settings.pop("image_size", None) or shape
    return _apply(Representation.from_dict({"kind": "image", "image_size": list(size)}), settings)
