"""Offline evaluation of generated spectrograms, and reconstruction metrics; names are imported on first use, so
importing the package stays cheap (no scikit-learn, no scipy)."""

from __future__ import annotations

import importlib

_EXPORTS = {name: f"spectrogen.metrics.{module}" for module, names in {
    "classifier": "Features SpectrogramClassifier FeatureClassifier save_classifier load_classifier load_feature_network",
    "classifier_training": "ClassifierOptions train_classifier train_classifier_on_dataset",
    "neighbours": "precision_recall nearest_neighbour_check",
    "diversity": "ssim ms_ssim diversity mean_pairwise_similarity",
    "reconstruction": "mse mae cosine_similarity spectral_convergence log_spectral_distance si_sdr pesq_score "
                      "stoi_score reconstruction_metrics",
    "evaluate": "RealReference EvaluationResult evaluate_samples parse_metrics",
    "distances": "inception_score fid frechet_distance gaussian_moments kid NDBBins",
    "checkpoint_evaluation": "evaluate_checkpoint evaluate_sample_file",
    "table": "format_table write_metrics",
    "during_training": "TrainingEvaluator build_callback",
}.items() for name in names.split()}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
