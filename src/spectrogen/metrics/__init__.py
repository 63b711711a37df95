"""Offline evaluation of generated spectrograms, and reconstruction metrics.

    classifier = train_classifier_on_dataset("data/sc09")                  # the feature network
    save_classifier(classifier, "sc09.pt")
    result = evaluate_checkpoint("runs/specgan", "data/sc09", classifier="sc09.pt")
    write_metrics(result, "runs/specgan/evaluation"); print(format_table(result))

    fid(real_features, fake_features); kid(...); inception_score(probabilities)
    ndb(real, fake); precision_recall(real_features, fake_features); diversity(real, fake)
    nearest_neighbour_check(fake, train, heldout); reconstruction_metrics(reference, estimate, ...)

Names are imported on first use, so importing the package stays cheap (no scikit-learn, no scipy).
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "SpectrogramClassifier": "spectrogen.metrics.classifier",
    "FeatureClassifier": "spectrogen.metrics.classifier",
    "save_classifier": "spectrogen.metrics.classifier",
    "load_classifier": "spectrogen.metrics.classifier",
    "ClassifierOptions": "spectrogen.metrics.classifier_training",
    "train_classifier": "spectrogen.metrics.classifier_training",
    "train_classifier_on_dataset": "spectrogen.metrics.classifier_training",
    "Features": "spectrogen.metrics.features",
    "load_feature_network": "spectrogen.metrics.features",
    "fid": "spectrogen.metrics.frechet",
    "frechet_distance": "spectrogen.metrics.frechet",
    "gaussian_moments": "spectrogen.metrics.frechet",
    "kid": "spectrogen.metrics.frechet",
    "inception_score": "spectrogen.metrics.inception_score",
    "ndb": "spectrogen.metrics.ndb",
    "NDBBins": "spectrogen.metrics.ndb",
    "precision_recall": "spectrogen.metrics.precision_recall",
    "ssim": "spectrogen.metrics.diversity",
    "ms_ssim": "spectrogen.metrics.diversity",
    "diversity": "spectrogen.metrics.diversity",
    "mean_pairwise_similarity": "spectrogen.metrics.diversity",
    "nearest_neighbour_check": "spectrogen.metrics.memorisation",
    "mse": "spectrogen.metrics.reconstruction",
    "mae": "spectrogen.metrics.reconstruction",
    "cosine_similarity": "spectrogen.metrics.reconstruction",
    "spectral_convergence": "spectrogen.metrics.reconstruction",
    "log_spectral_distance": "spectrogen.metrics.reconstruction",
    "si_sdr": "spectrogen.metrics.reconstruction",
    "pesq_score": "spectrogen.metrics.reconstruction",
    "stoi_score": "spectrogen.metrics.reconstruction",
    "reconstruction_metrics": "spectrogen.metrics.reconstruction",
    "RealReference": "spectrogen.metrics.evaluate",
    "EvaluationResult": "spectrogen.metrics.evaluate",
    "evaluate_samples": "spectrogen.metrics.evaluate",
    "parse_metrics": "spectrogen.metrics.evaluate",
    "evaluate_checkpoint": "spectrogen.metrics.checkpoint_evaluation",
    "evaluate_sample_file": "spectrogen.metrics.checkpoint_evaluation",
    "format_table": "spectrogen.metrics.table",
    "write_metrics": "spectrogen.metrics.table",
    "TrainingEvaluator": "spectrogen.metrics.during_training",
    "build_callback": "spectrogen.metrics.during_training",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
