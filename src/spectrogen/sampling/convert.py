"""`.npy` spectrogram arrays -> PNG/JPEG images (`epoch_001_grid.png`, or `epoch_001_images/epoch_001_sample_01.png`,
...), one file or a whole folder. Existing images are replaced only with `overwrite`: a single file refuses, a folder
skips them (so converting a growing `samples/` folder again only adds the new epochs)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

from spectrogen.errors import InputError, OverwriteError, SpectrogenError
from spectrogen.paths import check_folder_path
from spectrogen.sampling.images import (DEFAULT_COLORMAP, check_colormap, image_format, load_spectrogram_file,
                                        save_grid, save_images)
from spectrogen.sampling.naming import SampleNames
from spectrogen.spectral.representation import Representation

Mode = Literal["individual", "grid"]

# written by `spectrogen sample` next to samples.npy; gives the axes their units
SAMPLING_METADATA = "sampling.json"


@dataclass
class ConversionReport:
    """What a conversion wrote, what it left alone, and which inputs it could not read."""

    written: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (source, why)
    failed: list[tuple[Path, str]] = field(default_factory=list)  # (source, error message)


def convert_file(source, *, out_dir=None, mode: Mode = "individual", fmt: str = "png", quality: int = 95,
                 colormap: str = DEFAULT_COLORMAP, overwrite: bool = False, representation=None) -> list[Path]:
    """Returns the images written for one `.npy` file; raises InputError or OverwriteError naming the file."""
    source = Path(source)
    stack = load_spectrogram_file(source)  # (N, H, W)
    out_dir = Path(out_dir) if out_dir is not None else source.parent
    suffix, names = image_format(fmt), SampleNames(len(stack), (f"{source.stem}_sample",)).names(0, len(stack))
    outputs = ([out_dir / f"{source.stem}_grid.{suffix}"] if mode == "grid"
               else [out_dir / f"{source.stem}_images" / f"{name}.{suffix}" for name in names])
    existing = [p for p in outputs if p.exists()]
    if existing and not overwrite:
        raise OverwriteError(f"{existing[0]} already exists ({len(existing)} of the images); "
                             f"pass --overwrite to replace them")
    if representation is None:
        representation = representation_beside(source)
    if mode == "grid":
        save_grid(stack, outputs[0], quality=quality, colormap=colormap, representation=representation,
                  title=source.stem)
        return outputs
    return save_images(stack, outputs[0].parent, names=names, fmt=fmt, quality=quality, colormap=colormap,
                       representation=representation)


def convert_folder(folder, *, out_dir=None, overwrite: bool = False, **options) -> ConversionReport:
    """Returns what converting every `.npy` file directly in `folder` did; bad files are reported, not fatal."""
    folder = Path(folder)
    sources = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".npy" and p.is_file())
    if not sources:
        raise InputError("holds no .npy files to convert", folder)
    report = ConversionReport()
    for source in sources:
        try:
            report.written += convert_file(source, out_dir=out_dir, overwrite=overwrite, **options)
        except OverwriteError:
            report.skipped.append((source, "images already exist (--overwrite replaces them)"))
        except SpectrogenError as exc:
            report.failed.append((source, str(exc)))
    return report


def convert(path, *, batch: bool = False, mode: Mode = "individual", fmt: str = "png", quality: int = 95,
            colormap: str = DEFAULT_COLORMAP, out_dir=None, overwrite: bool = False) -> ConversionReport:
    """Returns what converting `path` did (a folder or `batch`: each `.npy` in it); every option is checked first."""
    path = Path(path)
    if not 1 <= quality <= 100:
        raise InputError(f"--quality {quality} is outside 1..100")
    check_colormap(colormap)
    if out_dir is not None:
        check_folder_path(out_dir, "--out")
    if not path.exists():
        raise InputError("no such file or folder", path)
    options = dict(mode=mode, fmt=fmt, quality=quality, colormap=colormap, out_dir=out_dir, overwrite=overwrite)
    if batch or path.is_dir():
        if not path.is_dir():
            raise InputError("--batch-convert needs a folder of .npy files, not a file", path)
        return convert_folder(path, **options)
    return ConversionReport(written=convert_file(path, **options))


def representation_beside(source: Path) -> Optional[object]:
    """Returns the Representation recorded in a `sampling.json` next to `source`, or None when there is none."""
    try:
        recorded = json.loads((source.parent / SAMPLING_METADATA).read_text(encoding="utf-8")).get("representation")
        return Representation.from_dict(recorded) if recorded else None
    except Exception:  # an unreadable record only costs the axes their units
        return None
