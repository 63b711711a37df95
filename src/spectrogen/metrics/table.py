"""metrics.json and the readable table of an evaluation."""

from __future__ import annotations

import json
import math
from pathlib import Path

from spectrogen import __version__
from spectrogen.atomic import write_text_atomic
from spectrogen.metrics.evaluate import RECOGNISED_PROBABILITY, EvaluationResult
from spectrogen.metrics.spectral_statistics import DARKEST_MARGIN_DB, SILENCE_BELOW_DB
from spectrogen.metrics.trust import warning_lines

METRICS_FORMAT = "spectrogen-metrics"
METRICS_FILE = "metrics.json"
TABLE_FILE = "metrics.txt"

# column -> (partner column shown as ± spread, what the figure means)
DESCRIPTIONS = {
    "fid": (None, "Fréchet distance of classifier features; lower is better, 0 = same Gaussian"),
    "kid": ("kid_std", "kernel distance (unbiased MMD², cubic kernel); about 0 for the data's own distribution"),
    "is": ("is_std", "inception score with the classifier; higher is better, at most the class count"),
    "is_real": ("is_real_std", "inception score of the real data: the ceiling for this classifier"),
    "ndb": (None, "k-means bins of the real data holding a significantly different share of samples"),
    "ndb_fraction": (None, "NDB / number of bins"),
    "ndb_bins": (None, "number of k-means bins"),
    "jsd": (None, "Jensen-Shannon divergence of the bin histograms (nats, 0..0.693)"),
    "precision": (None, "share of samples inside the real data's feature manifold (quality)"),
    "recall": (None, "share of real data inside the samples' feature manifold (coverage)"),
    "ssim_fake": (None, "mean pairwise SSIM of the samples (1 = all alike)"),
    "ssim_real": (None, "mean pairwise SSIM of real data"),
    "ms_ssim_fake": (None, "mean pairwise MS-SSIM of the samples"),
    "ms_ssim_real": (None, "mean pairwise MS-SSIM of real data"),
    "diversity_ratio": (None, "(1 - similarity of samples) / (1 - similarity of real data); near 0 = collapse"),
    "nn_train_mean": (None, "mean RMS distance of a sample to its nearest training example"),
    "nn_train_min": (None, "smallest such distance (0 = an exact copy)"),
    "nn_train_self_mean": (None, "mean distance of a training example to its nearest other one"),
    "nn_heldout_mean": (None, "mean RMS distance of a sample to its nearest held-out example"),
    "nn_heldout_min": (None, "smallest such distance"),
    "nn_train_heldout_ratio": (None, "samples' distance to training data over held-out data's; about 1 = new, << 1 = copies"),
    "nn_copy_fraction": (None, "share of samples nearer to the training set than 95% of its own examples are"),
    "profile_distance": (None, "mean |difference| of per-frequency mean and std profiles"),
    "class_accuracy": (None, "classifier accuracy on samples of the requested classes"),
    "type_coverage": (None, "least drawn class: its share of the samples over its share of the real data; 0 = a class never drawn"),
    "recognised": (None, f"share of samples the feature network puts in one class with probability >= {RECOGNISED_PROBABILITY:g}"),
    "artifact_ratio": (None, "power on the lattice of stride-2 up-sampling (a checkerboard) over the power beside "
                             "it; about 1 for real data, lower is better"),
    "artifact_ratio_real": (None, "the same of the real data"),
    "level_db_distance": (None, "mean over frequency of |level of the samples - level of real data|, in dB; 0 = alike"),
    "spread_db_distance": (None, "mean over frequency of |spread of the samples - spread of real data| (std, dB)"),
    "silent_frames": (None, f"share of the samples' frames that are silent: {SILENCE_BELOW_DB:g} dB below the real "
                            f"data's loud frames (99th percentile), or within {DARKEST_MARGIN_DB:g} dB of the darkest "
                            f"frame the evaluation space holds"),
    "silent_frames_real": (None, "the same of the real data"),
    "silent_mid": (None, "share of samples with a silent gap that sound follows (a hole in mid-clip, not a tail)"),
    "silent_mid_real": (None, "the same of the real data"),
    "tonal_db": (None, "mean height in dB of the samples' time-averaged spectrum above its local floor (harmonic lines)"),
    "tonal_db_real": (None, "the same of the real data"),
    "tonal_ratio": (None, "tonal_db / tonal_db_real: about 1 = as tonal as the data, near 0 = no harmonic lines"),
}
_SPREADS = {spread for spread, _ in DESCRIPTIONS.values() if spread}


def number_text(value) -> str:
    """Returns a figure as both tables write it: 4 significant digits."""
    if isinstance(value, int) or value is None or (isinstance(value, float) and not math.isfinite(value)):
        return str(value)
    return f"{value:.4g}"


def format_table(result: EvaluationResult) -> str:
    """Returns the metrics as aligned text: one row per figure, with ± spreads and what each means."""
    trust = result.info.get("feature_trust") or {}
    flagged = set(trust.get("not_meaningful") or [])
    rows = []
    for column, value in result.metrics.items():
        if column in _SPREADS:
            continue
        spread, meaning = DESCRIPTIONS.get(column, (None, ""))
        if column in flagged:
            meaning = "NOT MEANINGFUL (see the warning above); " + meaning
        shown = number_text(value)
        if spread and spread in result.metrics:
            shown += f" ± {number_text(result.metrics[spread])}"
        rows.append((column, shown, meaning))
    lines = warning_lines(trust)
    if lines:
        lines.append("")
    if rows:
        width = max(len(r[0]) for r in rows)
        shown_width = max(len(r[1]) for r in rows)
        lines += [f"{name:<{width}}  {shown:<{shown_width}}  {meaning}".rstrip() for name, shown, meaning in rows]
    if result.per_class:
        columns = sorted({key for figures in result.per_class.values() for key in figures})
        width = max(len(name) for name in result.per_class)
        lines += ["", "per class:", f"{'class':<{width}}  " + "  ".join(f"{c:>9}" for c in columns)]
        for name, figures in result.per_class.items():
            lines.append(f"{name:<{width}}  " + "  ".join(f"{number_text(figures[c]) if c in figures else '':>9}" for c in columns))
    for name, reason in result.skipped.items():
        lines.append(f"{name}: skipped: {reason}")
    return "\n".join(lines)


def write_metrics(result: EvaluationResult, out_dir) -> Path:
    """Writes OUT/metrics.json (everything) and OUT/metrics.txt (the table); returns the json path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    record = {"format": METRICS_FORMAT, "format_version": 1, "spectrogen_version": __version__, **result.to_dict()}
    # non-finite values (SI-SDR of a perfect copy, say) are written as null: JSON has no inf
    text = json.dumps(_nulls_for_non_finite(record), indent=2, default=str, allow_nan=False)
    write_text_atomic(out / TABLE_FILE, format_table(result) + "\n")
    return write_text_atomic(out / METRICS_FILE, text + "\n")


def _nulls_for_non_finite(value):
    # numpy scalars become plain numbers, and non-finite ones null
    if hasattr(value, "item") and not hasattr(value, "__len__"):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _nulls_for_non_finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_nulls_for_non_finite(v) for v in value]
    return value
