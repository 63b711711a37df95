"""All sample-quality metrics of generated spectrograms against real ones, on arrays already in the
*evaluation space*: (N, 1, H, W) normalised as the feature network expects (`checkpoint_evaluation` gets them there)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence

import numpy as np
import torch

from spectrogen.errors import UsageError
from spectrogen.metrics.classifier import Features
from spectrogen.metrics.distances import NDBBins, fid, inception_score, kid, ndb_pixels
from spectrogen.metrics.diversity import diversity, mean_pairwise_similarity
from spectrogen.metrics.neighbours import nearest_neighbour_check, precision_recall
from spectrogen.metrics.spectral_statistics import (DecibelSummary, compare_db, frame_levels_db, lattice_peak_ratio,
                                                    silence_threshold_db, summarise_db)

#: metric name -> the prefixes of the columns it adds
METRIC_COLUMNS = {"fid": ("fid",), "kid": ("kid",), "is": ("is",), "ndb": ("ndb", "jsd"), "pr": ("precision", "recall"),
                  "diversity": ("ssim", "ms_ssim", "diversity"), "nn": ("nn",), "profile": ("profile",),
                  "spectral": ("artifact", "level_db", "spread_db", "silent", "tonal")}
METRIC_NAMES = tuple(METRIC_COLUMNS)
ALL_METRICS = ("fid", "kid", "is", "ndb", "pr", "diversity", "nn", "spectral")
NEEDS_FEATURES = {"fid", "kid", "is", "pr"}
# columns where a smaller value is a better model: the ones that may pick best_model.tar (artifact_ratio:
# real data sit near 1 and up-sampling artifacts only raise it)
LOWER_IS_BETTER = ("fid", "kid", "ndb", "ndb_fraction", "jsd", "profile_distance", "nn_copy_fraction",
                   "level_db_distance", "spread_db_distance", "artifact_ratio")
NO_DB_REASON = ("no mapping from the evaluation space back to decibels was given (RealReference(to_db=...)); "
                "only artifact_ratio is computed")
PR_NEIGHBOURS = 3
IS_SPLITS = 10
DB_CHUNK = 256  # examples mapped to dB at once: a few hundred MB at most for 128x512 spectrograms
DIVERSITY_PAIRS = 250  # pairs per set (the mean's standard error: benchmarks/README.md)
RECOGNISED_PROBABILITY = 0.8  # a class's probability that makes a sample recognised as it (benchmarks/README.md)


def parse_metrics(names: str | Iterable[str] | None) -> list[str]:
    """Returns the metric names of a comma-separated string or list, checked; None or "all" means all."""
    if names is None:
        return list(ALL_METRICS)
    if isinstance(names, str):
        names = [part.strip() for part in names.split(",") if part.strip()]
    names = list(dict.fromkeys(names))
    if names == ["all"]:
        return list(ALL_METRICS)
    unknown = [name for name in names if name not in METRIC_NAMES]
    if unknown or not names:
        raise UsageError(f"unknown metric(s) {', '.join(unknown) or '(none given)'}; choose from "
                         f"{', '.join(METRIC_NAMES)} (comma-separated) or all")
    return names


def in_decibels(to_db: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> Iterator[np.ndarray]:
    """Yields evaluation-space arrays x (N, 1, H, W) in dB, (n, F, T), a few hundred at a time."""
    for start in range(0, len(x), DB_CHUNK):
        yield to_db(x[start:start + DB_CHUNK])


def frequency_profile(x: np.ndarray) -> np.ndarray:
    """Returns the mean and std of each frequency row over examples and frames, stacked (2, F)."""
    rows = np.moveaxis(np.asarray(x, dtype=np.float64)[:, 0], 1, 0).reshape(np.shape(x)[-2], -1)
    return np.stack([rows.mean(axis=1), rows.std(axis=1)])


class RealReference:
    """The real side of every comparison, with what is computed from it once; `train` (default `images`) and
    `heldout` are the memorisation check's, `to_db` maps (n, 1, H, W) to dB (n, F, T) for "spectral"."""

    def __init__(self, images: np.ndarray, network=None, *, labels: Optional[np.ndarray] = None,
                 class_names: Sequence[str] = (), train: Optional[np.ndarray] = None,
                 heldout: Optional[np.ndarray] = None, device: str | torch.device = "cpu", seed: int = 0,
                 to_db: Optional[Callable[[np.ndarray], np.ndarray]] = None, no_db_reason: Optional[str] = None):
        images = np.asarray(images, dtype=np.float32)
        self.images = images[:, None] if images.ndim == 3 else images
        self.network = network
        self.labels = None if labels is None else np.asarray(labels)
        self.class_names = list(class_names)
        self.train = self.images if train is None else train
        self.heldout = heldout
        self.device = device
        self.seed = seed
        self.to_db = to_db
        self.no_db_reason = no_db_reason or NO_DB_REASON
        self.silence_threshold_db: Optional[float] = None  # set with `decibels`
        self.timings: dict[str, float] = {}
        self._similarity: dict[bool, float] = {}

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.images.shape[-2:])

    @property
    def network_classes(self) -> list[str]:
        return list(getattr(self.network, "class_names", []) or [])

    @cached_property
    def features(self) -> Features:
        if self.network is None:
            raise UsageError("fid, kid, is and pr need a feature network (a classifier)")
        started = time.perf_counter()
        features = self.network.extract(self.images, device=self.device)
        self.timings["features_real"] = time.perf_counter() - started
        return features

    @cached_property
    def ndb_bins(self) -> NDBBins:
        return NDBBins(ndb_pixels(self.images), seed=self.seed)

    def similarity(self, multiscale: bool) -> float:
        """Returns the mean pairwise (MS-)SSIM of the real images (computed on first use)."""
        if multiscale not in self._similarity:
            self._similarity[multiscale] = mean_pairwise_similarity(
                self.images, pairs=DIVERSITY_PAIRS, multiscale=multiscale, seed=self.seed)
        return self._similarity[multiscale]

    @cached_property
    def artifact_ratio(self) -> float:
        return lattice_peak_ratio(self.images)

    @cached_property
    def decibels(self) -> DecibelSummary:
        """The dB summary of the real images; sets the silence threshold it implies."""
        if self.to_db is None:
            raise UsageError(f"the dB figures of spectral are not available: {self.no_db_reason}")
        summary = summarise_db(in_decibels(self.to_db, self.images))
        # the darkest the evaluation space holds: every value at the real images' minimum (-1 when normalised)
        darkest = self.to_db(np.full((1, *self.images.shape[1:]), self.images.min(), dtype=np.float32))
        self.silence_threshold_db = silence_threshold_db(summary, frame_levels_db(darkest).min())
        return summary


@dataclass
class EvaluationResult:
    """Flat metric columns, per-class figures, skipped metrics with the reason, and seconds per metric."""

    metrics: dict[str, float] = field(default_factory=dict)
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)  # what was compared with what (set by callers)

    def to_dict(self) -> dict[str, Any]:
        return {"metrics": self.metrics, "per_class": self.per_class, "skipped": self.skipped,
                "timings": {k: round(v, 4) for k, v in self.timings.items()}, **self.info}


def _classifies(reference: RealReference, names: Sequence[str]) -> bool:
    return reference.network_classes == list(names) and getattr(reference.network, "kind", "") == "supervised"


def _class_figures(fake: Features, fake_labels: np.ndarray, reference: RealReference, want_fid: bool,
                   result: EvaluationResult) -> None:
    # per requested class: how many samples, how often the classifier agrees, and FID against that class
    names = reference.class_names or reference.network_classes
    can_classify = fake.probabilities is not None and _classifies(reference, names)
    if not can_classify:
        result.skipped["class_accuracy"] = ("the feature network does not classify the data set's classes "
                                            "(train one with --train-classifier on this labelled data set)")
    predicted = fake.probabilities.argmax(axis=1) if can_classify else None
    real = reference.features if want_fid and reference.labels is not None else None
    for index in np.unique(fake_labels):
        mine = fake_labels == index
        figures: dict[str, float] = {"count": int(mine.sum())}
        if predicted is not None:
            figures["accuracy"] = float((predicted[mine] == index).mean())
        if real is not None:
            theirs = reference.labels == index
            if mine.sum() >= 2 and theirs.sum() >= 2:
                figures["fid"] = fid(real.embeddings[theirs], fake.embeddings[mine])
        name = names[index] if index < len(names) else str(index)
        result.per_class[name] = figures
    if predicted is not None:
        result.metrics["class_accuracy"] = float((predicted == fake_labels).mean())


def _type_figures(fake: Features, reference: RealReference, result: EvaluationResult) -> None:
    # samples of an unconditional model: which class the feature network sees in each, how often each
    # class is drawn against its share of the real data, and how many samples are clearly one class
    names = reference.class_names
    if fake.probabilities is None or reference.labels is None or not _classifies(reference, names):
        return
    predicted, confidence = fake.probabilities.argmax(axis=1), fake.probabilities.max(axis=1)
    clear = confidence >= RECOGNISED_PROBABILITY
    coverage = []
    for index, name in enumerate(names):
        real_share = float((reference.labels == index).mean())
        share = float((predicted == index).mean())
        result.per_class[name] = {"share": share, "real_share": real_share,
                                  "recognised": float(((predicted == index) & clear).mean())}
        if real_share > 0:
            coverage.append(share / real_share)
    if coverage:
        result.metrics["type_coverage"] = min(coverage)
    result.metrics["recognised"] = float(clear.mean())


@dataclass
class _Sides:
    fake: np.ndarray  # (M, 1, H, W)
    reference: RealReference
    fake_features: Optional[Features]
    real_features: Optional[Features]
    seed: int
    info: dict[str, Any] = field(default_factory=dict)  # what a metric leaves for metrics.json besides columns


def _inception_score(s: _Sides) -> dict[str, float]:
    # the splits must each be a fair mix: a conditional model's samples come in class blocks and data
    # sets are often sorted by class, so both sets are shuffled (seeded) before splitting
    rng = np.random.default_rng(s.seed)
    fake, real = s.fake_features.probabilities, s.real_features.probabilities
    score, spread = inception_score(fake[rng.permutation(len(fake))], IS_SPLITS)
    ceiling, ceiling_spread = inception_score(real[rng.permutation(len(real))], IS_SPLITS)
    return {"is": score, "is_std": spread, "is_real": ceiling, "is_real_std": ceiling_spread}


def _ndb(s: _Sides) -> dict[str, float]:
    outcome = s.reference.ndb_bins.test(ndb_pixels(s.fake))
    return {"ndb": outcome.ndb, "ndb_fraction": outcome.ndb_fraction, "jsd": outcome.jsd, "ndb_bins": outcome.bins}


def _spectral(s: _Sides) -> dict[str, float]:
    # the artifact ratio looks at what the generator draws; the dB figures at what a listener hears
    figures = {"artifact_ratio": lattice_peak_ratio(s.fake), "artifact_ratio_real": s.reference.artifact_ratio}
    if s.reference.to_db is None:
        return figures
    real = s.reference.decibels
    fake = summarise_db(in_decibels(s.reference.to_db, s.fake))
    s.info["spectral_profiles"] = {**fake.profiles(),
                                   **{f"{key}_real": value for key, value in real.profiles().items()},
                                   "silence_threshold_db": round(s.reference.silence_threshold_db, 2)}
    return {**figures, **compare_db(fake, real, s.reference.silence_threshold_db)}


_COMPUTE: dict[str, Callable[[_Sides], dict[str, float]]] = {
    "fid": lambda s: {"fid": fid(s.real_features.embeddings, s.fake_features.embeddings)},
    "kid": lambda s: dict(zip(("kid", "kid_std"), kid(s.real_features.embeddings, s.fake_features.embeddings,
                                                      seed=s.seed))),
    "is": _inception_score,
    "ndb": _ndb,
    "pr": lambda s: dict(zip(("precision", "recall"), precision_recall(
        s.real_features.embeddings, s.fake_features.embeddings, PR_NEIGHBOURS))),
    "diversity": lambda s: diversity(None, s.fake, pairs=DIVERSITY_PAIRS, seed=s.seed,
                                     real_similarity=s.reference.similarity).as_dict(),
    "nn": lambda s: nearest_neighbour_check(s.fake, s.reference.train, s.reference.heldout, seed=s.seed).as_dict(),
    "profile": lambda s: {"profile_distance": float(np.abs(frequency_profile(s.fake)
                                                           - frequency_profile(s.reference.images)).mean())},
    "spectral": _spectral,
}


def evaluate_samples(fake: np.ndarray, reference: RealReference | np.ndarray, *, network=None,
                     metrics: Iterable[str] | str | None = None, fake_labels: Optional[np.ndarray] = None,
                     seed: int = 0) -> EvaluationResult:
    """Returns the requested metrics of `fake` (M, 1, H, W) against a `RealReference` (reuse one for many sample
    sets) or real images (N, 1, H, W) with `network`; `fake_labels` (M,) add per-class figures."""
    names = parse_metrics(metrics)
    if not isinstance(reference, RealReference):
        reference = RealReference(reference, network, seed=seed)
    fake = np.asarray(fake, dtype=np.float32)
    fake = fake[:, None] if fake.ndim == 3 else fake
    if tuple(fake.shape[-2:]) != reference.shape:
        raise UsageError(f"generated samples are {fake.shape[-2]}x{fake.shape[-1]} but the real data are "
                         f"{reference.shape[0]}x{reference.shape[1]}; compare sets of one size")
    result = EvaluationResult()
    sides = _Sides(fake, reference, None, None, seed)
    wants_classes = fake_labels is not None and reference.network is not None
    if NEEDS_FEATURES & set(names) or wants_classes:
        first_use = "features_real" not in reference.timings
        sides.real_features = reference.features
        if first_use:
            result.timings["features_real"] = reference.timings["features_real"]
        started = time.perf_counter()
        sides.fake_features = reference.network.extract(fake, device=reference.device)
        result.timings["features_fake"] = time.perf_counter() - started
    for name in names:
        if name == "is" and sides.fake_features.probabilities is None:
            result.skipped["is"] = "the feature network gives no class probabilities"
            continue
        started = time.perf_counter()
        result.metrics.update(_COMPUTE[name](sides))
        result.timings[name] = time.perf_counter() - started
        if name == "nn" and reference.heldout is None:
            result.skipped["nn_heldout"] = ("no held-out data: the model trained on every example; pass "
                                            "--heldout DATA (a data set of other recordings) to compare")
        if name == "spectral" and reference.to_db is None:
            result.skipped["spectral_db"] = reference.no_db_reason
    result.info.update(sides.info)
    if wants_classes:
        started = time.perf_counter()
        _class_figures(sides.fake_features, np.asarray(fake_labels), reference, "fid" in names, result)
        result.timings["per_class"] = time.perf_counter() - started
    elif sides.fake_features is not None:
        _type_figures(sides.fake_features, reference, result)
    return result


def best_metric_column(name: str) -> str:
    """Returns the metrics column that `evaluation.best_metric` names; UsageError unless lower is better."""
    if name not in LOWER_IS_BETTER:
        raise UsageError(f"evaluation.best_metric={name!r}: best_model.tar is chosen by a metric where lower "
                         f"is better; use one of {', '.join(LOWER_IS_BETTER)}")
    return name


def metric_for_column(column: str) -> str:
    """Returns the metric name (as in --metrics) that produces `column`."""
    prefixes = sorted(((prefix, metric) for metric, prefixes in METRIC_COLUMNS.items() for prefix in prefixes),
                      key=lambda item: -len(item[0]))
    for prefix, metric in prefixes:
        if column == prefix or column.startswith(prefix + "_"):
            return metric
    raise UsageError(f"no metric produces the column {column!r}")
