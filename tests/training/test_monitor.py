"""Monitoring: loss stability, the mode-collapse signal, learning-rate decay on plateau, tolerated values."""

from __future__ import annotations

import numpy as np
import torch

from spectrogen.config import build_config
from spectrogen.config.schema import MonitorConfig
from spectrogen.data.info import DataInfo
from spectrogen.training.monitor import (ConvergenceMonitor, HealthMonitor, collapse_text, cpu_copy,
                                         mean_pairwise_distance, primary_loss, structure_distance)

from conftest import TinyMethod


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


def test_cpu_copy_is_independent_of_the_original():
    state = {"networks": {"w": torch.ones(3)}, "steps": [torch.zeros(1), 4]}
    copy = cpu_copy(state)
    state["networks"]["w"].add_(1)
    assert torch.equal(copy["networks"]["w"], torch.ones(3)) and copy["steps"][1] == 4


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
