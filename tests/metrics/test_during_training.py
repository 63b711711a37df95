"""Metrics during training: checkpoint_metrics.csv, best_model.tar by the best metric, the same numbers on resume."""

import pytest

from spectrogen.api import train
from spectrogen.config import build_config
from spectrogen.data.prepare import prepare
from spectrogen.errors import ConfigError
from spectrogen.metrics.during_training import build_callback, training_metric_names
from spectrogen.training.checkpoint import load_checkpoint
from spectrogen.training.csv_log import CsvLog

from common import write_dataset
from synthetic import CLASSES, as_log_magnitudes


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, harmonic_set):
    x, labels = harmonic_set
    return write_dataset(tmp_path_factory.mktemp("data") / "data", as_log_magnitudes(x[:64]), labels[:64], CLASSES)


def run_config(data_dir, out, epochs, **evaluation):
    return build_config({
        "data": {"path": str(data_dir)},
        "model": {"name": "dcgan", "image_size": 32, "features_g": 4, "features_d": 4, "latent_dim": 8},
        "training": {"epochs": epochs, "batch_size": 16, "device": "cpu", "seed": 3},
        "evaluation": {"eval_every": 1, "metrics": ["fid", "kid", "pr"], "num_samples": 32, "best_metric": "fid",
                       **evaluation},
        "output": {"output_dir": str(out), "plot_every": 100, "num_samples": 4, "report": False},
    })


def test_metrics_fill_checkpoint_metrics_pick_the_best_and_repeat_after_resume(data_dir, tmp_path, quick_plots):
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    train(run_config(data_dir, whole, 2), quiet=True)
    rows = CsvLog(whole / "epochs_statistics" / "checkpoint_metrics.csv").rows()
    assert [row["epoch"] for row in rows] == [1, 2]
    for row in rows:
        assert row["fid"] > 0 and 0 <= row["precision"] <= 1 and "kid_std" in row
    best = load_checkpoint(whole / "checkpoints" / "best_model.tar")["trainer"]["best"]
    assert best["criterion"] == "metric" and best["key"] == "fid"
    assert best["value"] == pytest.approx(min(row["fid"] for row in rows))
    assert (whole / "epochs_statistics" / "metrics_classifier.pt").is_file()

    train(run_config(data_dir, parts, 1), quiet=True)
    train(None, resume=parts, overrides=[("training.epochs", 2)], quiet=True)
    resumed = CsvLog(parts / "epochs_statistics" / "checkpoint_metrics.csv").rows()
    assert [row["epoch"] for row in resumed] == [1, 2]
    for key in ("fid", "kid", "precision", "recall"):
        assert resumed[1][key] == pytest.approx(rows[1][key], rel=1e-5, abs=1e-8), key


def test_the_configuration_is_checked_before_training():
    config = build_config({"evaluation": {"eval_every": 1, "metrics": ["diversity"], "best_metric": "kid"}})
    assert training_metric_names(config) == ["diversity", "kid"]  # the best metric is always computed
    assert build_callback(build_config({})) is None  # eval_every 0: no evaluation at all
    with pytest.raises(ConfigError, match="lower is better"):
        build_callback(build_config({"evaluation": {"eval_every": 1, "best_metric": "is"}}))
    with pytest.raises(ConfigError, match="unknown metric"):
        build_callback(build_config({"evaluation": {"eval_every": 1, "metrics": ["lpips"]}}))


def test_a_run_on_sound_can_be_judged_and_picked_by_its_level_in_decibels(tmp_path, quick_plots):
    data = tmp_path / "engines"
    prepare("builtin:engines", data, settings={"image_size": [32, 32]}, count=6, quiet=True)
    train(run_config(data, tmp_path / "run", 1, metrics=["spectral"], num_samples=16,
                     best_metric="level_db_distance"), quiet=True)
    row = CsvLog(tmp_path / "run" / "epochs_statistics" / "checkpoint_metrics.csv").rows()[-1]
    # the data set's representation turns the run's arrays back into decibels: every dB column is there
    assert row["level_db_distance"] > 0 and row["tonal_db_real"] > 0 and "silent_mid" in row
    # a resize generator draws no lattice of dots, even after one epoch, and neither do the real engines
    assert row["artifact_ratio"] <= 1.2 and row["artifact_ratio_real"] <= 1.2
    best = load_checkpoint(tmp_path / "run" / "checkpoints" / "best_model.tar")["trainer"]["best"]
    assert best["key"] == "level_db_distance" and best["value"] == pytest.approx(row["level_db_distance"])
