"""`reconstruct()`, the API behind `spectrogen reconstruct`: audio goes through the autoencoder in consecutive
windows (the last one zero-padded), joined along time into one waveform; each input also goes through the same
Griffin-Lim unchanged (the ``*_griffin_lim`` files and columns): what a perfect autoencoder would give."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from spectrogen.atomic import open_replacing, write_text_atomic
from spectrogen.data.dataset import SpectrogramDataset
from spectrogen.data.decode import SkipFile, finite_chunks, read_audio
from spectrogen.data.sources.files import AUDIO_SUFFIXES
from spectrogen.errors import CheckpointError, InputError, OverwriteError
from spectrogen.metrics.reconstruction import reconstruction_metrics
from spectrogen.metrics.table import TABLE_FILE, number_text
from spectrogen.report.autoencoder_figures import axis_labels, plot_spectrogram_comparison
from spectrogen.sampling.audio import features_to_audio, set_level, write_wav
from spectrogen.sampling.load import load_generator
from spectrogen.spectral.mapping import FeatureMapping
from spectrogen.spectral.normalization import Normalizer

#: the most frames one comparison figure shows of a long recording (about 20 s at the preset's hop)
MAX_PLOT_FRAMES = 1024
#: the most examples one data-set comparison grid shows
MAX_PLOT_EXAMPLES = 8
DEFAULT_DATASET_EXAMPLES = 8
TABLE_COLUMNS = ("mse", "mae", "cosine_similarity", "spectral_convergence", "log_spectral_distance_db",
                 "si_sdr_db", "pesq", "stoi", "si_sdr_db_griffin_lim", "pesq_griffin_lim", "stoi_griffin_lim")


@dataclass
class ReconstructionReport:
    """What `reconstruct` did: one metrics row per input, files skipped and why, notes."""

    out: Path
    rows: list[dict[str, object]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    table: str = ""


def reconstruct(checkpoint: str | Path, source: str | Path, out: str | Path, *, n: Optional[int] = None,
                griffin_lim_iters: Optional[int] = None, overwrite: bool = False, device: str = "cpu",
                batch_size: int = 16, log: Callable[[str], None] = lambda line: None) -> ReconstructionReport:
    """Returns the report of reconstructing `source` (audio file(s) or a prepared data set) into `out`; `n`: the
    most audio files, or the number of data-set examples (default 8)."""
    source, out = Path(source).expanduser(), Path(out).expanduser()
    if n is not None and n < 1:
        raise InputError(f"--n {n}: give at least 1")
    if griffin_lim_iters is not None and griffin_lim_iters < 1:
        raise InputError(f"--griffin-lim-iters {griffin_lim_iters}: use at least 1")
    is_dataset = source.is_dir() and (source / "dataset.json").is_file()
    files = [] if is_dataset else audio_files(source)
    if out.exists() and not out.is_dir():
        raise OverwriteError(f"--out {out} is a file; give a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise OverwriteError(f"--out {out} already holds files; choose another folder or add --overwrite")
    model = load_generator(checkpoint, device=device)
    if model.model_name != "autoencoder":
        raise CheckpointError(f"holds a {model.model_name} model; `spectrogen reconstruct` needs an autoencoder "
                              f"checkpoint (train one with --model autoencoder); to generate from this one use "
                              f"`spectrogen sample`", checkpoint)
    normalizer = model.normalizer if model.normalizer is not None else Normalizer("none").to(model.method.device)
    space = FeatureMapping(model.representation, normalizer, tuple(model.shape[1:]))
    n_iter = griffin_lim_iters or model.config.output.griffin_lim_iterations
    out.mkdir(parents=True, exist_ok=True)
    report = ReconstructionReport(out)
    job = _Job(model.method, space, n_iter, batch_size, out, report, log)
    if is_dataset:
        job.dataset(source, n or DEFAULT_DATASET_EXAMPLES)
    else:
        job.audio_files(source, files[:n] if n else files)
    _write_metrics(report)
    return report


def audio_files(source: Path) -> list[Path]:
    """Returns the audio files `source` names: itself, or those under it (sorted, hidden ones left out)."""
    if source.is_file():
        if not source.name.lower().endswith(AUDIO_SUFFIXES):
            raise InputError(f"is neither an audio file ({', '.join(AUDIO_SUFFIXES)}) nor a data set folder", source)
        return [source]
    if not source.is_dir():
        raise InputError("no such file or folder; give an audio file, a folder of them or a data set made by "
                         "`spectrogen prepare`", source)
    files = sorted(path for path in source.rglob("*") if path.is_file() and path.name.lower().endswith(AUDIO_SUFFIXES)
                   and not any(part.startswith(".") for part in path.relative_to(source).parts))
    if not files:
        raise InputError(f"holds no audio files ({', '.join(AUDIO_SUFFIXES)}) and no dataset.json", source)
    return files


class _Job:
    """One reconstruct call: the model, its feature space and where results go."""

    def __init__(self, method, space: FeatureMapping, n_iter: int, batch_size: int,
                 out: Path, report: ReconstructionReport, log: Callable[[str], None]):
        self.method, self.space = method, space
        self.n_iter, self.batch_size, self.out, self.report, self.log = n_iter, batch_size, out, report, log

    def _reconstruct(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (inputs, reconstructions) in model space, (N, 1, H, W), of features (N, F, T)."""
        inputs = self.space.to_model(features)
        parts = [self.method.reconstruct(inputs[i:i + self.batch_size]) for i in range(0, len(inputs), self.batch_size)]
        return inputs, torch.cat(parts)

    def audio_files(self, root: Path, files: list[Path]) -> None:
        if not self.space.audible:
            raise InputError("this autoencoder was trained on images, not audio spectrograms, so it cannot read "
                             "audio; give it a data set made by `spectrogen prepare` instead", root)
        rate = self.space.representation.sample_rate
        for path in files:
            name = path.name if root.is_file() else path.relative_to(root).as_posix()
            try:
                # refused as `prepare` refuses it: one NaN sample makes every metric NaN
                audio = np.concatenate(list(finite_chunks(read_audio(path, rate))))
            except SkipFile as skip:
                self.report.skipped.append((name, skip.reason))
                self.log(f"skipped {name}: {skip.reason}")
                continue
            self.log(f"{name}: {len(audio) / rate:.1f} s")
            self._audio(name, audio)
        if not self.report.rows:
            reasons = "; ".join(f"{name}: {reason}" for name, reason in self.report.skipped)
            raise InputError(f"no audio could be read ({reasons})", root)

    def _audio(self, name: str, audio: np.ndarray) -> None:
        rep, space = self.space.representation, self.space
        window = rep.num_samples
        count = max(1, math.ceil(len(audio) / window))
        padded = np.pad(np.asarray(audio, dtype=np.float32), (0, count * window - len(audio)))
        with torch.inference_mode():
            features = rep.features(torch.from_numpy(padded.reshape(count, window)).to(space.device))  # (W, F, T)
        inputs, rebuilt = self._reconstruct(features)  # (W, 1, H, W')
        estimate = space.to_features(rebuilt)  # (W, F, T)
        original_audio = audio[None]  # (1, S)
        griffin_lim = self._long_audio(features)[:, :len(audio)]
        reconstructed = self._long_audio(estimate)[:, :len(audio)]
        stem = Path(name).with_suffix("").as_posix().replace("/", "__")  # sub-folders joined by "__"
        rate = rep.sample_rate
        self._write_wavs(stem, {"original": original_audio[0], "griffin_lim": griffin_lim[0],
                                "reconstructed": reconstructed[0]}, rate)
        joined_reference, joined_estimate = _along_time(features), _along_time(estimate)  # (F, W*T)
        heard = math.ceil(len(audio) / rep.hop_length) if rep.image_size is None else joined_reference.shape[-1]
        shown = min(MAX_PLOT_FRAMES, heard, joined_reference.shape[-1])  # the padding is not shown
        plot_spectrogram_comparison(joined_reference[None, :, :shown], joined_estimate[None, :, :shown],
                                    self.out / f"{stem}_spectrogram_comparison.png", titles=[name],
                                    **axis_labels(space))
        row = self._metrics(inputs, rebuilt, original_audio, reconstructed, rate)
        # of Griffin-Lim alone, its waveform figures only
        griffin_lim_metrics = reconstruction_metrics(original_audio, griffin_lim, reference_audio=original_audio,
                                                     estimate_audio=griffin_lim, sample_rate=rate).values
        row.update({f"{key}_griffin_lim": value for key, value in griffin_lim_metrics.items()
                    if key in ("si_sdr_db", "pesq", "stoi")})
        self.report.rows.append({"input": name, "seconds": round(len(audio) / rate, 3), "windows": count, **row})

    def _long_audio(self, features: torch.Tensor) -> np.ndarray:
        """Returns one waveform (1, W*S) of consecutive windows' features (W, F, T)."""
        if self.space.representation.image_size is None:
            # one Griffin-Lim over the whole spectrogram: no phase jumps at window joins
            return features_to_audio(_along_time(features)[None], self.space.representation, self.n_iter)
        return features_to_audio(features, self.space.representation, self.n_iter).reshape(1, -1)

    def dataset(self, root: Path, n: int) -> None:
        dataset = SpectrogramDataset.open(root)
        _check_same_representation(dataset.representation, self.space.representation, root)
        chosen = np.unique(np.linspace(0, len(dataset) - 1, min(n, len(dataset))).round().astype(np.int64))
        features = torch.from_numpy(np.asarray(dataset.features[chosen], dtype=np.float32))  # (n, F, T)
        inputs, rebuilt = self._reconstruct(features)
        reference, estimate = self.space.to_features(inputs), self.space.to_features(rebuilt)  # (n, F, T)
        shown = slice(0, MAX_PLOT_EXAMPLES)
        plot_spectrogram_comparison(reference[shown].cpu().numpy(), estimate[shown].cpu().numpy(),
                                    self.out / "spectrogram_comparison.png",
                                    titles=[f"example {int(k)}" for k in chosen[shown]], **axis_labels(self.space))
        if len(chosen) > MAX_PLOT_EXAMPLES:
            self.report.notes.append(f"spectrogram_comparison.png shows the first {MAX_PLOT_EXAMPLES} of "
                                     f"{len(chosen)} examples")
        audible, representation = self.space.audible, self.space.representation
        rate = representation.sample_rate if audible else None
        if not audible:
            self.report.notes.append("the data set has no audio representation: no .wav files, no audio metrics")
        for i, index in enumerate(chosen):
            reference_audio = estimate_audio = None
            if audible:
                reference_audio = features_to_audio(reference[i:i + 1], representation, self.n_iter)
                estimate_audio = features_to_audio(estimate[i:i + 1], representation, self.n_iter)
                self._write_wavs(f"example_{int(index)}", {"griffin_lim": reference_audio[0],
                                                           "reconstructed": estimate_audio[0]}, rate)
            row = self._metrics(inputs[i:i + 1], rebuilt[i:i + 1], reference_audio, estimate_audio, rate)
            self.report.rows.append({"input": f"example {int(index)}", "windows": 1, **row})
        if audible:
            self.report.notes.append("data set examples keep no audio: their audio metrics compare the "
                                     "reconstruction with the original spectrogram's Griffin-Lim (same phases)")

    def _metrics(self, inputs: torch.Tensor, rebuilt: torch.Tensor, reference_audio, estimate_audio,
                 rate: Optional[int]) -> dict[str, float]:
        magnitudes = {}
        if self.space.audible:
            magnitudes = {"reference_magnitude": self.space.magnitudes(inputs).cpu().numpy(),
                          "estimate_magnitude": self.space.magnitudes(rebuilt).cpu().numpy()}
        result = reconstruction_metrics(inputs.cpu().numpy(), rebuilt.cpu().numpy(), **magnitudes,
                                        reference_audio=reference_audio, estimate_audio=estimate_audio,
                                        sample_rate=rate)
        for note in (f"{name}: {reason}" for name, reason in result.skipped.items()):
            if note not in self.report.notes:
                self.report.notes.append(note)
        return dict(result.values)

    def _write_wavs(self, stem: str, clips: dict[str, np.ndarray], rate: int) -> None:
        """Writes STEM_KEY.wav for each clip (S,) at the input's own level (one gain for all, where one would clip)."""
        for key, clip in zip(clips, set_level(np.stack(list(clips.values())), together=True)):
            write_wav(self.out / f"{stem}_{key}.wav", clip, rate)


def _along_time(features: torch.Tensor) -> torch.Tensor:
    """Returns consecutive windows' features (W, F, T) joined along time, (F, W*T)."""
    return features.permute(1, 0, 2).reshape(features.shape[1], -1)


def _check_same_representation(data_representation, model_representation, root: Path) -> None:
    if model_representation is None or data_representation is None:
        return
    ours, theirs = model_representation.to_dict(), data_representation.to_dict()
    if ours != theirs:
        differences = ", ".join(f"{key} {theirs.get(key)!r} (model: {ours.get(key)!r})"
                                for key in sorted(ours) if ours.get(key) != theirs.get(key))
        raise InputError(f"was prepared with another representation than the model's training data: "
                         f"{differences}; prepare it again with the model's settings, or give audio files",
                         root / "dataset.json")


def _write_metrics(report: ReconstructionReport) -> None:
    """Writes metrics.csv and metrics.txt into `report.out` and fills `report.table`."""
    columns = [c for c in ("input", "seconds", "windows", *TABLE_COLUMNS) if any(c in row for row in report.rows)]
    with open_replacing(report.out / "metrics.csv", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(report.rows)
    report.table = format_table(report.rows, columns)
    lines = [report.table] + [f"note: {note}" for note in report.notes]
    lines += [f"skipped {name}: {reason}" for name, reason in report.skipped]
    write_text_atomic(report.out / TABLE_FILE, "\n".join(lines) + "\n")


def format_table(rows: list[dict[str, object]], columns: list[str]) -> str:
    """Returns `rows` as aligned text, one line per input, plus a mean row when there are several."""
    def cell(value) -> str:
        return number_text(value) if isinstance(value, float) else "" if value is None else str(value)

    numeric = columns[1:]  # all but "input"
    body = [[cell(row.get(c)) for c in columns] for row in rows]
    if len(rows) > 1:
        means = {c: float(np.nanmean([float(row[c]) for row in rows if c in row])) for c in numeric}
        body.append(["mean"] + [cell(means[c]) for c in numeric])
    widths = [max(len(c), *(len(line[i]) for line in body)) for i, c in enumerate(columns)]
    header = "  ".join(c.ljust(w) for c, w in zip(columns, widths))
    return "\n".join([header] + ["  ".join(v.ljust(w) for v, w in zip(line, widths)) for line in body])
