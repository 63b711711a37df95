"""A conditional run records the per-class collapse signal, and its summary names the class that looks alike."""

import json

import numpy as np
import pytest

from spectrogen.config import build_config
from spectrogen.api import train
from spectrogen.training.csv_log import CsvLog
from spectrogen.training.run_directory import RunDirectory
from spectrogen.training.summary import summary_lines

from conftest import tone_features, write_dataset


def _cgan_run(tmp_path, threshold: float):
    features, labels = tone_features(48, shape=(32, 32))
    data = write_dataset(tmp_path / "data", features, labels, ["low", "mid", "high"])
    out = tmp_path / f"run_{threshold:g}"
    config = build_config({
        "data": {"path": str(data), "normalization": "minmax"},
        "model": {"name": "cgan", "image_size": 32, "features_g": 4, "features_d": 4, "latent_dim": 8},
        "training": {"epochs": 2, "batch_size": 16, "device": "cpu"},
        "monitor": {"class_collapse_threshold": threshold, "collapse_threshold": 0.0},  # only the class check
        "output": {"output_dir": str(out), "num_samples": 6, "plot_every": 100, "report": False}})
    train(config, overwrite=True, quiet=True)
    return out, CsvLog(RunDirectory(out).epoch_csv).rows()


@pytest.mark.parametrize("threshold", [1e6, 0.0])
def test_the_class_check_flags_below_its_threshold_and_is_off_at_zero(tmp_path, threshold):
    out, rows = _cgan_run(tmp_path, threshold)
    text = "\n".join(summary_lines(out))
    if threshold > 0:  # every class is "too alike" for a threshold no ratio reaches
        assert all(np.isfinite(row["class_diversity_ratio"]) and row["collapse"] == 1 for row in rows), rows
        named = ["low", "mid", "high"][int(rows[-1]["alike_class"])]
        assert f"the samples of {named} look alike" in text and "class_collapse_threshold" in text
    else:
        assert all("class_diversity_ratio" not in row or row["class_diversity_ratio"] in ("", None) for row in rows)
        assert "class_collapse_threshold" not in text
    saved = json.loads(RunDirectory(out).config_json.read_text())
    assert saved["monitor"]["class_collapse_threshold"] == threshold
