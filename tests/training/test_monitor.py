"""Monitoring: loss stability, the mode-collapse signal (whole and per class), learning-rate decay on plateau,
tolerated values, and the NaN policies through the Python API (each on a real model: tests/reliability)."""

import json
import math

import numpy as np
import pytest
import torch

from spectrogen.api import train
from spectrogen.config import build_config
from spectrogen.config.schema import MonitorConfig
from spectrogen.data.info import DataInfo
from spectrogen.errors import TrainingDiverged
from spectrogen.training.monitor import (ConvergenceMonitor, HealthMonitor, collapse_text, mean_pairwise_distance,
                                         primary_loss, structure_distance)
from spectrogen.training.summary import summary_lines

from common import epoch_rows, write_dataset
from training_helpers import TinyMethod, tiny_config, tone_features


def test_stability_is_the_coefficient_of_variation_over_the_window():
    monitor = ConvergenceMonitor(MonitorConfig(stability_window=4), plateau=False)
    losses = [2.0, 1.0, 3.0, 2.0, 2.5]
    results = [monitor.stability({"loss_g": value, "loss_d": 9.0}) for value in losses]
    assert results[:3] == [None, None, None]  # the window is not full yet
    assert np.isclose(results[3], np.std(losses[:4]) / np.mean(losses[:4]))
    assert np.isclose(results[4], np.std(losses[1:]) / np.mean(losses[1:]))
    flat = ConvergenceMonitor(MonitorConfig(stability_window=3), plateau=False)
    assert [flat.stability({"loss": 0.5}) for _ in range(3)][-1] == 0.0


def test_primary_loss_prefers_the_generator():
    assert primary_loss({"loss_d": 1.0, "loss_g": 2.0}) == "loss_g"
    assert primary_loss({"val_loss": 1.0, "loss": 2.0}) == "loss"
    assert primary_loss({"d_real": 1.0}) is None


def band_spectrograms(count: int, generator: torch.Generator) -> torch.Tensor:
    """Returns (count, 1, 32, 32) spectrogram-like examples: a bright band at a random row, pulses at a random rate."""
    x = torch.full((count, 1, 32, 32), -0.8)
    for k in range(count):
        row = int(torch.randint(2, 28, (1,), generator=generator))
        period = int(torch.randint(2, 9, (1,), generator=generator))
        x[k, 0, row:row + 3, :] = 0.6
        x[k, 0, :, ::period] += 0.3
    return x + 0.05 * torch.randn(x.shape, generator=generator)


def test_collapse_is_flagged_where_the_samples_look_alike_and_not_where_they_differ():
    generator = torch.Generator().manual_seed(0)
    real = band_spectrograms(16, generator)
    monitor = ConvergenceMonitor(MonitorConfig(), plateau=False)
    monitor.real_distance = structure_distance(real)
    diverse = monitor.diversity(band_spectrograms(16, generator))
    identical = monitor.diversity(real[:1].repeat(16, 1, 1, 1) + 0.01 * torch.randn(16, 1, 32, 32, generator=generator))
    # one texture for every noise vector: the data's mean layout with independent pixel noise
    texture = real.mean(0, keepdim=True) + 0.2 * torch.randn(16, 1, 32, 32, generator=generator)
    one_texture = monitor.diversity(texture)
    assert diverse["diversity_ratio"] > 0.6 and diverse["collapse"] == 0, diverse
    assert identical["diversity_ratio"] < 0.05 and identical["collapse"] == 1, identical
    assert one_texture["collapse"] == 1, one_texture
    # pixel by pixel the texture varies half as much as the data: a pixel distance (threshold 0.1) called it diverse
    assert mean_pairwise_distance(texture) > 0.4 * mean_pairwise_distance(real)


def test_plateau_fires_after_patience_epochs_without_improvement_and_resumes_its_count():
    monitor = ConvergenceMonitor(MonitorConfig(plateau_patience=3), plateau=True)
    fired = [monitor.plateau(value) for value in [5.0, 4.0, 4.0, 4.1, 4.0, 3.0, 3.5, 3.5]]
    assert fired == [False, False, False, False, True, False, False, False]
    again = ConvergenceMonitor(MonitorConfig(plateau_patience=3), plateau=True)
    again.load_state_dict(monitor.state_dict())
    assert again.plateau(3.5) is True  # third epoch without beating 3.0
    assert ConvergenceMonitor(MonitorConfig(), plateau=False).plateau(1.0) is False


def test_fp16_overflowing_gradient_norms_are_not_nan_events():
    method = TinyMethod(build_config({"model": {"name": "autoencoder", "image_size": 8}}), DataInfo((1, 8, 8)),
                        torch.device("cpu"))
    monitor = HealthMonitor(method, "skip", tolerated=("grad_norm",))
    keys = ("loss", "grad_norm_g")
    assert monitor.check(keys, np.array([[0.5, np.inf], [0.4, 1.0]]), "here") is None
    assert monitor.epoch_events == 0
    assert "non-finite loss here" in monitor.check(keys, np.array([[np.nan, 1.0]]), "here")
    assert monitor.epoch_events == 1


def test_a_class_drawn_as_one_sample_is_flagged_though_the_whole_set_looks_varied():
    # three classes told apart by their band's row, varied within (pulse rate, band height): like engine types
    generator = torch.Generator().manual_seed(0)
    rows = {0: 4, 1: 14, 2: 24}

    def of_class(k: int, count: int) -> torch.Tensor:
        x = band_spectrograms(count, generator)
        x[:, 0] = -0.8 + 0.05 * torch.randn(count, 32, 32, generator=generator)
        for i in range(count):
            period = int(torch.randint(2, 9, (1,), generator=generator))
            x[i, 0, rows[k] + int(torch.randint(-2, 3, (1,), generator=generator)):, ::period] += 0.8
            x[i, 0, rows[k]:rows[k] + 3, :] = 0.6 * float(torch.rand(1, generator=generator)) + 0.2
        return x

    monitor = ConvergenceMonitor(MonitorConfig(), plateau=False)
    monitor.real_class_distances = {k: structure_distance(of_class(k, 16)) for k in rows}
    labels = torch.arange(48) % 3
    varied = torch.empty(48, 1, 32, 32)
    for k in rows:
        varied[labels == k] = of_class(k, 16)
    healthy = monitor.class_diversity(varied, labels)
    assert healthy["collapse"] == 0 and healthy["class_diversity_ratio"] > 0.6, healthy
    one_of_class_1 = varied.clone()
    one_of_class_1[labels == 1] = varied[labels == 1][:1] + 0.02 * torch.randn(16, 1, 32, 32, generator=generator)
    collapsed = monitor.class_diversity(one_of_class_1, labels)
    assert collapsed["collapse"] == 1 and collapsed["alike_class"] == 1, collapsed
    assert collapsed["class_diversity_ratio"] < 0.1
    # the whole-set check compares across classes, whose bands differ: it calls the collapsed set varied
    monitor.real_distance = structure_distance(torch.cat([of_class(k, 6) for k in rows]))
    assert monitor.diversity(one_of_class_1)["collapse"] == 0
    text = collapse_text({**collapsed, "diversity_ratio": 0.9}, MonitorConfig().model_dump(), ["low", "mid", "high"])
    assert "samples of mid look alike" in text and "class_collapse_threshold=0.5" in text


def train_with_policy(tone_data, out, policy):
    return train(tiny_config(tone_data, out, {"monitor.nan_policy": policy}), quiet=True)


def test_skip_policy_leaves_a_bad_statistic_out_and_training_unchanged(tone_data, tmp_path, tiny_method,
                                                                       quick_plots):
    train_with_policy(tone_data, tmp_path / "clean", "skip")
    tiny_method.faults.update({3: "nan_statistic"})
    train_with_policy(tone_data, tmp_path / "run", "skip")
    clean, skipped = epoch_rows(tmp_path / "clean"), epoch_rows(tmp_path / "run")
    assert [row["nan_events"] for row in skipped] == [1, 0, 0]
    # only the report was bad: the weights never were, so nothing was restored
    assert [row["loss_g"] for row in skipped] == [row["loss_g"] for row in clean]
    assert math.isfinite(skipped[0]["loss_d"]) and skipped[0]["loss_d"] != clean[0]["loss_d"]


def test_a_fault_that_keeps_coming_back_stops_the_run(tone_data, tmp_path, tiny_method, quick_plots):
    tiny_method.faults.update({call: "nan_loss" for call in range(3, 40)})
    with pytest.raises(TrainingDiverged, match="5 logging intervals in a row"):
        train_with_policy(tone_data, tmp_path / "run", "restore")


@pytest.mark.parametrize("threshold", [1e6, 0.0])
def test_the_class_check_flags_below_its_threshold_and_is_off_at_zero(tmp_path, threshold):
    features, labels = tone_features(48, shape=(32, 32))
    data = write_dataset(tmp_path / "data", features, labels, ["low", "mid", "high"])
    out = tmp_path / "run"
    train(build_config({
        "data": {"path": str(data), "normalization": "minmax"},
        "model": {"name": "cgan", "image_size": 32, "features_g": 4, "features_d": 4, "latent_dim": 8},
        "training": {"epochs": 2, "batch_size": 16, "device": "cpu"},
        "monitor": {"class_collapse_threshold": threshold, "collapse_threshold": 0.0},  # only the class check
        "output": {"output_dir": str(out), "num_samples": 6, "plot_every": 100, "report": False}}), quiet=True)
    rows, text = epoch_rows(out), "\n".join(summary_lines(out))
    samples = np.load(out / "samples" / "epoch_002.npy")
    assert samples.shape == (6, 1, 32, 32) and np.abs(samples).max() <= 1.0
    if threshold > 0:  # every class is "too alike" for a threshold no ratio reaches
        assert all(np.isfinite(row["class_diversity_ratio"]) and row["collapse"] == 1 for row in rows), rows
        named = ["low", "mid", "high"][int(rows[-1]["alike_class"])]
        assert f"the samples of {named} look alike" in text and "class_collapse_threshold" in text
    else:
        assert all("class_diversity_ratio" not in row or row["class_diversity_ratio"] in ("", None) for row in rows)
        assert "class_collapse_threshold" not in text
    saved = json.loads((out / "epochs_statistics" / "experiment_config.json").read_text())
    assert saved["monitor"]["class_collapse_threshold"] == threshold
