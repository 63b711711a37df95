"""Evaluate a checkpoint, a run directory or a file of samples against a prepared data set, under one
feature network (FID-like figures compare only under one, so the metrics file names it)."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from spectrogen.errors import InputError
from spectrogen.metrics.classifier import load_feature_network
from spectrogen.metrics.classifier_training import ClassifierOptions, train_classifier_on_dataset
from spectrogen.metrics.evaluate import EvaluationResult, RealReference, evaluate_samples, parse_metrics
from spectrogen.metrics.inputs import (convert_space, dataset_normalizer, decibel_mapping, load_samples,
                                       normalised_examples, open_data, resolve_checkpoint, run_heldout_indices,
                                       sampling_record)
from spectrogen.metrics.trust import flag_result
from spectrogen.sampling.generate import balanced_labels, generate
from spectrogen.sampling.load import load_generator
from spectrogen.training.checkpoint import load_checkpoint
from spectrogen.training.run_directory import run_of_checkpoint

# a classifier trained on the spot when none is given: its numbers compare only with evaluations using it
QUICK_CLASSIFIER = ClassifierOptions(epochs=5, max_examples=2000)
RUN_CLASSIFIER = "epochs_statistics/metrics_classifier.pt"
# at most this many training and held-out examples are loaded for the memorisation check
MAX_NEIGHBOUR_REFERENCE = 1000

Log = Callable[[str], None]


def feature_network_for(dataset, shape: tuple[int, int], *, classifier=None, inception=None,
                        run_dir: Optional[Path] = None, device: str = "cpu", log: Log = print):
    """Returns (feature network, evaluation normaliser) for comparing samples of `shape` with `dataset`."""
    if classifier is not None or inception is not None:
        network = load_feature_network(classifier, inception)
    elif run_dir is not None and (run_dir / RUN_CLASSIFIER).is_file():
        network = load_feature_network(run_dir / RUN_CLASSIFIER)
        log(f"feature network: {run_dir / RUN_CLASSIFIER} (trained by the run for its metrics)")
    else:
        log("feature network: none given, training a quick one now; save one with `spectrogen evaluate "
            "--train-classifier DATA --out CLASSIFIER.pt` and pass --classifier so that numbers stay comparable")
        network = train_classifier_on_dataset(dataset, shape=shape, options=replace(QUICK_CLASSIFIER, device=device),
                                              log=log)
    expected = getattr(network, "input_shape", None)
    if expected is not None and tuple(expected) != tuple(shape):  # before the samples are drawn
        raise InputError(
            f"the classifier was trained on {expected[0]}x{expected[1]} spectrograms but the samples are "
            f"{shape[0]}x{shape[1]}; train one for this size with `spectrogen evaluate --train-classifier DATA "
            f"--size {shape[0]}x{shape[1]} --out CLASSIFIER.pt`", getattr(network, "path", None))
    return network, dataset_normalizer(dataset, getattr(network, "normalizer", None))


def build_reference(dataset, network, normalizer, shape: tuple[int, int], n: int, *,
                    heldout_indices: Optional[np.ndarray] = None, heldout_data=None, seed: int = 0,
                    device: str = "cpu") -> tuple[RealReference, dict[str, Any]]:
    """Returns the real side (`n` random training examples, and the memorisation check's) and its description."""
    rng = np.random.default_rng(seed)

    def pick(pool: np.ndarray, count: int = MAX_NEIGHBOUR_REFERENCE) -> np.ndarray:
        return np.sort(rng.choice(pool, min(count, len(pool)), replace=False))

    everything = np.arange(len(dataset))
    pool = everything if heldout_indices is None else np.setdiff1d(everything, heldout_indices)
    if len(pool) < 2:
        raise InputError(f"holds {len(dataset)} examples; evaluation needs at least 2", dataset.root)
    chosen = pick(pool, n)
    images = normalised_examples(dataset, chosen, normalizer, shape)
    train = normalised_examples(dataset, pick(pool), normalizer, shape)
    heldout, heldout_source = None, None
    if heldout_data is not None:
        other = open_data(heldout_data)
        if other.shape != dataset.shape:
            raise InputError(f"held-out data are {other.shape[0]}x{other.shape[1]} but the data set is "
                             f"{dataset.shape[0]}x{dataset.shape[1]}; prepare both the same way", heldout_data)
        heldout = normalised_examples(other, pick(np.arange(len(other))), normalizer, shape)
        heldout_source = str(heldout_data)
    elif heldout_indices is not None:
        heldout = normalised_examples(dataset, pick(heldout_indices), normalizer, shape)
        heldout_source = "the run's validation split"
    labels = dataset.labels[chosen] if len(dataset.class_names) >= 2 else None
    to_db, no_db_reason = decibel_mapping(normalizer, getattr(dataset, "representation", None))
    reference = RealReference(images, network, labels=labels, class_names=dataset.class_names, train=train,
                              heldout=heldout, device=device, seed=seed, to_db=to_db, no_db_reason=no_db_reason)
    described = {"path": str(dataset.root), "examples": len(dataset), "reference": len(images),
                 "train_reference": len(train), "heldout": None if heldout is None else len(heldout),
                 "heldout_source": heldout_source, "shape": list(shape), "normalizer": normalizer.kind}
    return reference, described


def evaluate_checkpoint(target, data, *, n: int = 1000, metrics=None, classifier=None, inception=None,
                        heldout_data=None, seed: int = 0, device: str = "cpu", batch_size: int = 64,
                        log: Log = print) -> EvaluationResult:
    """Returns the metrics of `n` samples (as many of each class) of a checkpoint or a run's best one against `data`."""
    names = parse_metrics(metrics)
    path, which = resolve_checkpoint(target)
    log(f"checkpoint: {path} ({which})")
    dataset = open_data(data)
    model = load_generator(path, device=device)
    labels = balanced_labels(n, len(model.class_names) or model.method.num_classes) if model.conditional else None
    timings = {}

    def draw() -> np.ndarray:
        started = time.perf_counter()
        samples = generate(model, n, labels=labels, seed=seed, batch_size=batch_size).numpy()  # (n, 1, H, W)
        timings["generation"] = time.perf_counter() - started
        return samples

    validates = bool(getattr(model.method, "uses_validation", False))
    heldout = run_heldout_indices(model.config, len(dataset), validates)
    result = _compare(dataset, tuple(model.shape[-2:]), n, draw, model.normalizer, names, labels,
                      model.class_names, {"checkpoint": str(path), "which": which, "model": model.model_name},
                      classifier=classifier, inception=inception, run_dir=run_of_checkpoint(path),
                      heldout_indices=heldout, heldout_data=heldout_data, seed=seed, device=device, log=log)
    result.timings.update(timings)
    if "nn_heldout" in result.skipped:
        fraction = model.config.data.validation_fraction
        why = (f"its run held none out (data.validation_fraction={fraction:g})" if validates else
               f"a {model.model_name} run trains on every example (data.validation_fraction={fraction:g} "
               f"applies only to models that validate, the autoencoder)")
        result.skipped["nn_heldout"] = (f"no held-out data: {why}; pass --heldout DATA (a data set of other "
                                        f"recordings) to compare")
    return result


def evaluate_sample_file(samples_path, data, *, checkpoint=None, samples_normalization: str = "per_frequency",
                         metrics=None, classifier=None, inception=None, heldout_data=None, seed: int = 0,
                         device: str = "cpu", log: Log = print) -> EvaluationResult:
    """Returns the metrics of the spectrograms in a .npy file (N, 1, H, W) against `data`, normalised as by
    `checkpoint`, else by the checkpoint in the sampling.json beside it, else by `samples_normalization`."""
    names = parse_metrics(metrics)
    samples = load_samples(samples_path)
    dataset = open_data(data)
    shape = tuple(samples.shape[-2:])
    record = sampling_record(samples_path)
    source_checkpoint = checkpoint or (record.get("checkpoint") if record.get("checkpoint") and
                                       Path(record["checkpoint"]).is_file() else None)
    saved_normalizer, run_dir = None, None
    if source_checkpoint is not None:
        path, _ = resolve_checkpoint(source_checkpoint)
        saved_normalizer = load_checkpoint(path, mmap=True)["data"].get("normalizer")
        run_dir = run_of_checkpoint(path)
        log(f"samples normalised as in {path}")
    source = dataset_normalizer(dataset, saved_normalizer, samples_normalization)
    if shape != tuple(dataset.shape):  # said before anything slow: the user may have given the wrong file
        log(f"note: the samples are {shape[0]}x{shape[1]}, the data set's spectrograms "
            f"{dataset.shape[0]}x{dataset.shape[1]}; the real examples are resized to {shape[0]}x{shape[1]} "
            "to be compared with them")
    labels = record.get("labels")
    labels = np.asarray(labels) if labels is not None and len(labels) == len(samples) else None
    return _compare(dataset, shape, len(samples), lambda: samples, source, names, labels, record.get("class_names", []),
                    {"samples": str(samples_path), "normalization": source.kind,
                     "checkpoint": None if source_checkpoint is None else str(source_checkpoint)},
                    run_dir=run_dir, classifier=classifier, inception=inception, heldout_data=heldout_data,
                    seed=seed, device=device, log=log)


def _compare(dataset, shape, n: int, draw: Callable[[], np.ndarray], samples_normalizer, names, labels, model_classes,
             source: dict[str, Any], *, run_dir, heldout_indices=None, classifier, inception, heldout_data, seed: int,
             device: str, log: Log) -> EvaluationResult:
    """Returns the metrics of the `n` samples `draw()` gives (n, 1, H, W), drawn once the real side is ready."""
    network, normalizer = feature_network_for(dataset, shape, classifier=classifier, inception=inception,
                                              run_dir=run_dir, device=device, log=log)
    reference, described = build_reference(dataset, network, normalizer, shape, n, heldout_indices=heldout_indices,
                                           heldout_data=heldout_data, seed=seed, device=device)
    samples = convert_space(draw(), samples_normalizer, normalizer)
    # per-class figures need the generator's classes to be the data set's, in the same order
    comparable = list(model_classes) == list(dataset.class_names)
    result = evaluate_samples(samples, reference, metrics=names, fake_labels=labels if comparable else None, seed=seed)
    if labels is not None and not comparable:
        result.skipped["per_class"] = (f"the model's classes ({', '.join(model_classes)}) are not the data set's "
                                       f"({', '.join(dataset.class_names)})")
    result.info.update({"source": source, "n": len(samples), "seed": seed, "data": described,
                        "feature_network": reference.network.describe()})
    flag_result(result)
    return result
