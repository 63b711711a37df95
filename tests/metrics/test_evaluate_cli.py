"""`spectrogen evaluate`: training a feature network, evaluating sample files and checkpoints, bad input."""

import json

import numpy as np
import pytest
import torch

from spectrogen.cli.main import main
from spectrogen.data.dataset import SpectrogramDataset
from spectrogen.metrics.classifier import load_classifier
from spectrogen.spectral.normalization import Normalizer

from common import assert_refused, cpu_method, run_cli, save_as_trained, write_dataset
from synthetic import CLASSES, as_log_magnitudes


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, harmonic_set):
    x, labels = harmonic_set
    return write_dataset(tmp_path_factory.mktemp("data") / "data", as_log_magnitudes(x[:160]), labels[:160], CLASSES)


@pytest.fixture(scope="module")
def classifier_file(data_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("classifier") / "clf.pt"
    assert main(["evaluate", "--train-classifier", str(data_dir), "--out", str(path), "--epochs", "3"]) == 0
    return path


def test_train_classifier_writes_a_normalising_classifier_and_refuses_to_overwrite(classifier_file, capsys):
    classifier = load_classifier(classifier_file)
    assert classifier.kind == "supervised" and classifier.class_names == CLASSES
    assert classifier.normalizer["kind"] == "per_frequency"
    assert classifier.heldout["accuracy"] >= 0.8
    assert main(["evaluate", "--train-classifier", "x", "--out", str(classifier_file)]) == 2
    assert "--overwrite" in capsys.readouterr().err


def write_cgan_run(run_dir, data_dir):
    """Writes a run directory whose best_model.tar holds an untrained tiny conditional GAN."""
    method = cpu_method("cgan", (1, 32, 32), CLASSES, image_size=32, features_g=4, features_d=4, latent_dim=8)
    normalizer = Normalizer("per_frequency", SpectrogramDataset.open(data_dir).moments).to_dict()
    save_as_trained(method, run_dir / "checkpoints" / "best_model.tar", normalizer)


def test_a_conditional_run_is_evaluated_at_its_best_checkpoint_with_per_class_figures_and_no_warning(
        data_dir, classifier_file, tmp_path, capsys):
    run_dir = tmp_path / "run"
    write_cgan_run(run_dir, data_dir)
    assert main(["evaluate", str(run_dir), "--data", str(data_dir), "--classifier", str(classifier_file),
                 "--n", "40", "--metrics", "fid,pr"]) == 0
    record = json.loads((run_dir / "evaluation" / "metrics.json").read_text())
    assert record["source"]["which"] == "best_model.tar" and record["source"]["model"] == "cgan"
    assert set(record["per_class"]) == set(CLASSES)
    assert all(figures["count"] == 10 and 0.0 <= figures["accuracy"] <= 1.0 for figures in record["per_class"].values())
    assert 0.0 <= record["metrics"]["class_accuracy"] <= 1.0 and record["metrics"]["fid"] > 0
    printed = capsys.readouterr().out
    assert "per class" in printed and "warning:" not in printed  # a network that separates the classes
    assert record["feature_trust"]["meaningful"] is True


def test_samples_of_another_shape_are_refused(data_dir, classifier_file, tmp_path, capsys):
    np.save(tmp_path / "channels.npy", np.zeros((4, 2, 32, 32), dtype=np.float32))
    np.save(tmp_path / "small.npy", np.zeros((4, 1, 16, 16), dtype=np.float32))
    for name, extra, message in (("channels", [], "C=2 channels"),
                                 ("small", ["--classifier", classifier_file], "trained on 32x32")):
        code, _, err = run_cli(["evaluate", "--samples", tmp_path / f"{name}.npy", "--data", data_dir, *extra], capsys)
        assert_refused(code, err, message)


def test_a_feature_network_trained_on_too_few_examples_is_flagged_before_any_figure(data_dir, tmp_path,
                                                                                  harmonic_set, capsys):
    x, labels = harmonic_set
    small = write_dataset(tmp_path / "small", as_log_magnitudes(x[:12]), labels[:12], CLASSES)  # 1-2 held out
    run_dir = tmp_path / "run"
    write_cgan_run(run_dir, small)
    capsys.readouterr()
    assert main(["evaluate", str(run_dir), "--data", str(small), "--n", "12", "--metrics", "fid,kid,is,nn"]) == 0
    printed = capsys.readouterr().out
    warning = printed.index("warning:")
    assert warning < printed.index("\nfid") and "NOT MEANINGFUL" in printed and "--classifier PATH" in printed
    record = json.loads((run_dir / "evaluation" / "metrics.json").read_text())
    assert record["feature_trust"]["meaningful"] is False
    assert {"fid", "kid", "is"} <= set(record["feature_trust"]["not_meaningful"])
    # a GAN holds no validation split back, whatever data.validation_fraction says: the message says why
    assert "a cgan run trains on every example (data.validation_fraction=0.1" in record["skipped"]["nn_heldout"]


def test_sample_files_are_evaluated_and_say_which_classes_they_draw_and_how_clearly(
        data_dir, classifier_file, harmonic_set, tmp_path, capsys):
    # the demo's "every engine type recognisable": a set that draws every class scores near 1, a set
    # of one class 0 for the classes it never draws, and noise is seldom clearly any class
    x, labels = harmonic_set
    # unseen examples of the same distribution, normalised per frequency as training would see them
    normalizer = Normalizer("per_frequency", SpectrogramDataset.open(data_dir).moments)
    held = normalizer(torch.as_tensor(as_log_magnitudes(x[300:400]))).numpy()[:, None]
    sets = {"all": held, "one": held[labels[300:400] == 0]}
    sets["noisy"] = np.clip(sets["all"] + np.random.default_rng(0).normal(0, 0.8, sets["all"].shape),
                            -1, 1).astype(np.float32)
    records = {}
    for name, samples in sets.items():
        np.save(tmp_path / f"{name}.npy", samples)
        assert main(["evaluate", "--samples", str(tmp_path / f"{name}.npy"), "--data", str(data_dir),
                     "--classifier", str(classifier_file), "--metrics", "fid,kid,is,diversity",
                     "--out", str(tmp_path / name)]) == 0
        records[name] = json.loads((tmp_path / name / "metrics.json").read_text())
        assert "fid" in capsys.readouterr().out and (tmp_path / name / "metrics.txt").is_file()
    every, one, noisy = (records[name] for name in ("all", "one", "noisy"))
    assert every["format"] == "spectrogen-metrics" and every["n"] == 100
    assert every["feature_network"]["path"] == str(classifier_file)
    assert every["metrics"]["fid"] < 0.2 * noisy["metrics"]["fid"] and every["metrics"]["is"] > noisy["metrics"]["is"]
    assert set(every["per_class"]) == set(CLASSES)
    assert all(abs(figures["real_share"] - 1 / len(CLASSES)) < 0.15 for figures in every["per_class"].values())
    assert every["metrics"]["type_coverage"] >= 0.6 and every["metrics"]["recognised"] >= 0.8
    assert one["metrics"]["type_coverage"] == 0.0 and one["per_class"][CLASSES[0]]["share"] >= 0.8
    assert noisy["metrics"]["recognised"] < every["metrics"]["recognised"] - 0.2
    text = (tmp_path / "all" / "metrics.txt").read_text()
    assert "type_coverage" in text and "diversity_ratio" in text
