"""Tiny GANs learn 32x32 "spectrograms" of one harmonic tone each: the samples' per-frequency mean profile and the
histogram of their brightest rows (total variation distance: one stuck pitch fails it) come near the data's."""

from dataclasses import dataclass

import pytest
import torch

from spectrogen.config.schema import MonitorConfig
from spectrogen.data.info import Batch
from spectrogen.training.monitor import ConvergenceMonitor, structure_distance

from common import cpu_method

SIZE = 32
PITCHES = (4, 7, 10)  # row of each class's fundamental; its harmonic sits at twice the row
EXAMPLES = 512
SAMPLES = 256


def harmonic_tones(count: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns (examples (N, 1, 32, 32) in [-1, 1], classes (N,)), pitches equally likely."""
    labels = torch.randint(0, len(PITCHES), (count,), generator=generator)
    rows = torch.tensor(PITCHES)[labels]
    x = torch.full((count, 1, SIZE, SIZE), -0.8)
    x[torch.arange(count), 0, rows, :] = 0.8
    x[torch.arange(count), 0, 2 * rows, :] = 0.0
    x += 0.05 * torch.randn(x.shape, generator=generator)
    return x.clamp(-1.0, 1.0), labels


def peak_rows(x: torch.Tensor) -> torch.Tensor:
    """Returns the brightest row (frequency bin) of each example (N, 1, F, T) -> (N,)."""
    return x.mean(dim=(1, 3)).argmax(dim=1)


@dataclass
class Distance:
    profile: float  # mean |difference| of the per-frequency mean
    peaks: float  # total variation distance of the brightest-row histograms, 0..1


def distance(samples: torch.Tensor, data: torch.Tensor) -> Distance:
    profile = (samples.mean(dim=(0, 1, 3)) - data.mean(dim=(0, 1, 3))).abs().mean()
    histogram = lambda x: torch.bincount(peak_rows(x), minlength=SIZE).float() / len(x)  # noqa: E731
    return Distance(float(profile), float(0.5 * (histogram(samples) - histogram(data)).abs().sum()))


def tiny_method(name: str, model: dict, training: dict):
    return cpu_method(name, (1, SIZE, SIZE), ["low", "mid", "high"], 0, {"batch_size": 32, **training},
                      image_size=SIZE, latent_dim=16, **model)


def train(method, data: torch.Tensor, labels: torch.Tensor, generator_steps: int, seed: int) -> None:
    batches = torch.Generator().manual_seed(seed)
    size = method.config.training.batch_size
    for _ in range(generator_steps * method.critic_steps):
        index = torch.randint(0, len(data), (size,), generator=batches)
        method.train_step(Batch(data[index], labels[index]))


def on_pitch(method) -> list[float]:
    """Returns per class k the share of 64 class-k samples whose brightest row is within a row of pitch k."""
    return [float(((peak_rows(samples(method, torch.full((64,), k))) - pitch).abs() <= 1).float().mean())
            for k, pitch in enumerate(PITCHES)]


def samples(method, labels=None) -> torch.Tensor:
    return method.sample(SAMPLES if labels is None else len(labels), labels=labels,
                         generator=torch.Generator().manual_seed(1))


def collapse_signal(method, data: torch.Tensor) -> dict[str, float]:
    """Returns the training monitor's collapse signal for 16 samples against 16 examples of `data`."""
    monitor = ConvergenceMonitor(MonitorConfig(), plateau=False)
    monitor.real_distance = structure_distance(data[:16])
    return monitor.diversity(samples(method)[:16])


@pytest.mark.parametrize("name, training", [
    ("dcgan", {"learning_rate": 5e-4, "beta2": 0.99, "label_smoothing": 0.2}),
    ("specgan", {"loss": "wgan-gp", "learning_rate": 2e-3, "critic_steps": 2, "batch_size": 16}),
])
def test_unconditional_gans_learn_the_pitches_and_their_proportions(name, training):
    data, labels = harmonic_tones(EXAMPLES, torch.Generator().manual_seed(0))
    method = tiny_method(name, {"features_g": 16, "features_d": 16}, training)
    untrained = distance(samples(method), data)
    if name == "dcgan":  # an untrained generator draws one texture for every noise vector: a collapse
        assert collapse_signal(method, data)["collapse"] == 1
    train(method, data, labels, generator_steps=200, seed=0)
    trained = distance(samples(method), data)
    assert trained.profile < 0.3 * untrained.profile, (trained, untrained)
    assert trained.peaks < 0.5 and trained.peaks < 0.6 * untrained.peaks, (trained, untrained)
    if name == "dcgan":  # ... and once trained, the monitor sees samples as varied as the data
        assert collapse_signal(method, data)["collapse"] == 0


def test_cgan_makes_the_pitch_of_the_class_it_is_asked_for():
    data, labels = harmonic_tones(EXAMPLES, torch.Generator().manual_seed(0))
    method = tiny_method("cgan", {"features_g": 16, "features_d": 8,
                                  "conditional": {"base": "dcgan", "discriminator_input": "projection"}},
                         {"learning_rate": 5e-4, "beta2": 0.99})

    def class_distances() -> list[Distance]:
        return [distance(samples(method, torch.full((64,), k)), data[labels == k]) for k in range(len(PITCHES))]

    untrained, untrained_distances = on_pitch(method), class_distances()
    train(method, data, labels, generator_steps=125, seed=0)
    trained, trained_distances = on_pitch(method), class_distances()
    assert min(trained) > 0.9 and sum(untrained) / len(untrained) < 0.5, (trained, untrained)
    for before, after in zip(untrained_distances, trained_distances):
        assert after.profile < 0.3 * before.profile, (after, before)


def test_cgan_with_an_auxiliary_classifier_learns_every_class_of_imbalanced_data():
    # a tenfold imbalance: the rare class is still made on pitch when asked for
    generator = torch.Generator().manual_seed(3)
    data, labels = harmonic_tones(EXAMPLES, generator)
    keep = (labels != 0) | (torch.rand(len(labels), generator=generator) < 0.1)
    data, labels = data[keep], labels[keep]
    assert (labels == 0).sum() * 5 < (labels == 1).sum()
    method = tiny_method("cgan", {"features_g": 16, "features_d": 8, "conditional": {
        "base": "dcgan", "discriminator_input": "projection", "auxiliary_classifier": 1.0}},
        {"learning_rate": 5e-4, "beta2": 0.99})
    batches = torch.Generator().manual_seed(0)
    weights = (1.0 / torch.bincount(labels).float())[labels]  # class-balanced draws, as the trainer's
    statistics = {}
    for _ in range(250):  # twice the plain cgan's steps: imbalanced classes learn more slowly
        index = torch.multinomial(weights, 32, replacement=True, generator=batches)
        statistics = method.train_step(Batch(data[index], labels[index]))
    assert {"class_loss_d", "class_loss_g"} <= set(statistics)
    assert min(on_pitch(method)) > 0.9, on_pitch(method)
