"""Metrics during training, every `evaluation.eval_every` epochs and after the last, into checkpoint_metrics.csv.
The quick classifier is saved in the run for resumes and `evaluate RUN`; samples come from fixed noise."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Optional

import numpy as np
import torch

from spectrogen.config.schema import ExperimentConfig
from spectrogen.errors import ConfigError, UsageError
from spectrogen.metrics.checkpoint_evaluation import QUICK_CLASSIFIER, RUN_CLASSIFIER
from spectrogen.metrics.classifier import load_classifier, save_classifier
from spectrogen.metrics.classifier_training import train_classifier
from spectrogen.metrics.evaluate import RealReference, best_metric_column, evaluate_samples, metric_for_column, \
    parse_metrics
from spectrogen.metrics.inputs import convert_space, decibel_mapping
from spectrogen.sampling.generate import balanced_labels, generate

# noise of the evaluation samples: fixed per run, apart from the seeds of training and of its samples
_SAMPLE_SEED_OFFSET = 0xE7A1
LOGGED = ("fid", "kid", "is", "precision", "recall", "diversity_ratio", "ndb", "class_accuracy", "artifact_ratio",
          "level_db_distance", "tonal_ratio")


def training_metric_names(config: ExperimentConfig) -> list[str]:
    """Returns the metrics to compute during training: `evaluation.metrics` plus the one `best_metric` needs."""
    try:
        names = parse_metrics(config.evaluation.metrics)
        column = best_metric_column(config.evaluation.best_metric)
        needed = metric_for_column(column)
    except UsageError as exc:
        raise ConfigError(f"evaluation.metrics / evaluation.best_metric: {exc}") from None
    return names if needed in names else names + [needed]


class TrainingEvaluator:
    """The epoch callback: evaluates the method's samples and records them with the trainer."""

    def __init__(self, config: ExperimentConfig):
        self.config = config
        self.names = training_metric_names(config)
        self.reference: Optional[RealReference] = None
        self.classifier = None

    def __call__(self, trainer, epoch: int) -> None:
        every = self.config.evaluation.eval_every  # evaluates every eval_every epochs, and after the last
        if not (every > 0 and (epoch % every == 0 or epoch == self.config.training.epochs)):
            return
        started = time.perf_counter()
        metrics = self.evaluate(trainer)
        metrics["evaluation_seconds"] = round(time.perf_counter() - started, 3)
        trainer.progress.log(f"metrics at epoch {epoch}: "
                             + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items() if k in LOGGED))
        trainer.record_checkpoint_metrics(epoch, metrics)

    def _classifier(self, trainer, log) -> Any:
        data, device = trainer.data, trainer.context.device
        shape = tuple(data.shape[1:])  # (H, W) the model makes
        if self.config.evaluation.classifier:
            return load_classifier(self.config.evaluation.classifier)
        saved = trainer.run.root / RUN_CLASSIFIER
        if saved.is_file():
            classifier = load_classifier(saved)
            if tuple(classifier.input_shape) == shape:
                return classifier
        rng = np.random.default_rng([self.config.training.seed, _SAMPLE_SEED_OFFSET])
        pool = data.train_indices
        chosen = np.sort(rng.choice(pool, min(QUICK_CLASSIFIER.max_examples, len(pool)), replace=False))
        batch = data.examples(chosen)
        labels = None if batch.y is None else batch.y.cpu().numpy()
        log(f"evaluation: training a feature network on {len(chosen)} training examples "
            f"(evaluation.classifier is not set); saved as {saved}")
        options = replace(QUICK_CLASSIFIER, seed=self.config.training.seed, device=str(device))
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            classifier = train_classifier(batch.x[:, 0].cpu().numpy(), labels, list(data.class_names), options,
                                          normalizer=data.normalizer.to_dict())
        classifier.training.update(data=str(data.path), note="trained by a run for its metrics during training")
        save_classifier(classifier, saved)
        return classifier

    def _to_classifier_space(self, x: np.ndarray, data) -> np.ndarray:
        # a configured classifier may have been trained with another normalisation than this run's
        return convert_space(x, data.normalizer, self.classifier.normalizer)

    def _setup(self, trainer) -> None:
        data, log = trainer.data, trainer.progress.log
        self.classifier = self._classifier(trainer, log)
        rng = np.random.default_rng([self.config.training.seed, _SAMPLE_SEED_OFFSET, 1])
        count = min(self.config.evaluation.num_samples, len(data.train_indices))
        chosen = np.sort(rng.choice(data.train_indices, count, replace=False))
        batch = data.examples(chosen)
        real = self._to_classifier_space(batch.x.cpu().numpy(), data)  # (n, 1, H, W)
        held = data.validation_indices[:1000]
        heldout = self._to_classifier_space(data.examples(held).x.cpu().numpy(), data) if len(held) else None
        # the reference is in the classifier's normalisation when it has one, else in the run's
        space = self.classifier.normalizer or data.normalizer.to_dict()
        to_db, no_db_reason = decibel_mapping(space, data.representation)
        self.reference = RealReference(real, self.classifier, labels=None if batch.y is None else batch.y.cpu().numpy(),
                                       class_names=data.class_names, heldout=heldout,
                                       device=trainer.context.device, seed=self.config.training.seed,
                                       to_db=to_db, no_db_reason=no_db_reason)

    def evaluate(self, trainer) -> dict[str, float]:
        """Returns the metric columns of `evaluation.num_samples` samples of the trainer's method."""
        if self.reference is None:
            self._setup(trainer)
        method, device = trainer.method, trainer.context.device
        n = self.config.evaluation.num_samples
        labels = balanced_labels(n, method.info.num_classes) if method.conditional and method.info.num_classes \
            else None
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            method.train(False)
            try:
                samples = generate(method, n, labels=labels, batch_size=self.config.training.batch_size,
                                   seed=self.config.training.seed + _SAMPLE_SEED_OFFSET)
            finally:
                method.train(True)
        fake = self._to_classifier_space(samples.numpy(), trainer.data)
        result = evaluate_samples(fake, self.reference, metrics=self.names, seed=self.config.training.seed,
                                  fake_labels=None if labels is None else labels.numpy())
        return {k: float(v) for k, v in result.metrics.items()}


def build_callback(config: ExperimentConfig) -> Optional[TrainingEvaluator]:
    """Returns the evaluation callback the trainer calls after each epoch, or None when eval_every is 0."""
    return TrainingEvaluator(config) if config.evaluation.eval_every > 0 else None
