"""The built-in sets, made rather than read (nothing is downloaded): `builtin:engines`, combustion-engine sounds
synthesised from a seed, four engine types as classes; `builtin:digits`, scikit-learn's handwritten digits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from spectrogen.data.sources.base import ArraySource, AudioSource, Item

DEFAULT_CLIPS_PER_CLASS = 32
DEFAULT_CLIP_SECONDS = 1.024  # used when no window length is known


@dataclass(frozen=True)
class EngineType:
    """The parameters that make one class of engine sound."""

    name: str
    cylinders: int
    rpm_range: tuple[float, float]
    resonances: tuple[tuple[float, float, float], ...]  # (frequency Hz, decay time s, gain)
    pulse_pattern: tuple[float, ...]  # relative strength of successive firings
    harmonics: float  # level of firing-rate harmonics relative to the pulses
    noise: float  # level of breathing noise relative to the pulses
    knock: float = 0.0  # level of high-passed noise bursts at each firing (diesel clatter)


ENGINE_TYPES = (
    EngineType("single", 1, (900.0, 1600.0), ((160.0, 0.030, 1.0), (470.0, 0.012, 0.5), (1250.0, 0.005, 0.25)),
               (1.0,), harmonics=0.15, noise=0.04),
    EngineType("inline4", 4, (1500.0, 4200.0), ((230.0, 0.018, 1.0), (860.0, 0.008, 0.6), (2100.0, 0.003, 0.3)),
               (1.0, 0.95, 1.0, 0.95), harmonics=0.25, noise=0.05),
    EngineType("v8", 8, (800.0, 3000.0), ((105.0, 0.035, 1.0), (330.0, 0.015, 0.7), (900.0, 0.006, 0.3)),
               (1.0, 0.6, 0.9, 0.55, 1.0, 0.7, 0.85, 0.5), harmonics=0.3, noise=0.04),
    EngineType("diesel", 4, (700.0, 2000.0), ((320.0, 0.010, 0.8), (1700.0, 0.004, 1.0), (3600.0, 0.002, 0.6)),
               (1.0, 0.9, 1.0, 0.9), harmonics=0.1, noise=0.06, knock=0.5),
)


def rpm_curve(engine: EngineType, length: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Returns the rpm at each sample, (S,): a smooth sweep between two rpms in range plus a slow wobble."""
    low, high = engine.rpm_range
    start = rng.uniform(low, high)
    end = float(np.clip(start * np.exp(rng.uniform(-0.35, 0.35)), low, high))
    position = np.linspace(0.0, 1.0, length)
    sweep = start + (end - start) * position * position * (3.0 - 2.0 * position)  # smoothstep
    t = np.arange(length) / sample_rate
    wobble = 1.0 + 0.02 * np.sin(2 * np.pi * rng.uniform(0.5, 2.0) * t + rng.uniform(0, 2 * np.pi))
    return sweep * wobble


def resonance_response(engine: EngineType, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Returns the ringing after one firing, (L,): damped sinusoids, frequencies varied by +-8 %, gains by +-20 %."""
    longest = max(decay for _, decay, _ in engine.resonances)
    t = np.arange(int(5 * longest * sample_rate) + 1) / sample_rate
    nyquist = sample_rate / 2
    response = np.zeros_like(t)
    for frequency, decay, gain in engine.resonances:
        frequency *= rng.uniform(0.92, 1.08)
        if frequency < 0.9 * nyquist:  # a resonance above Nyquist would alias into a wrong pitch
            response += gain * rng.uniform(0.8, 1.2) * np.exp(-t / decay) * np.sin(2 * np.pi * frequency * t)
    return response


def synthesize(engine: EngineType, length: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Returns one engine clip, (S,) float32 with a peak between 0.3 and 0.8: damped resonances rung by each firing
    of a four-stroke engine, over firing-rate harmonics, breathing noise and a slow rpm sweep."""
    from scipy.signal import fftconvolve, lfilter  # deferred: scipy.signal is slow to import

    rpm = rpm_curve(engine, length, sample_rate, rng)
    firing_rate = rpm / 60.0 * engine.cylinders / 2.0  # Hz
    firing_phase = np.cumsum(firing_rate) / sample_rate + rng.uniform(0.0, 1.0)  # in firings
    count = np.floor(firing_phase).astype(np.int64)
    fires = np.flatnonzero(np.diff(count, prepend=count[0]) > 0)  # samples where a firing starts

    pattern = np.asarray(engine.pulse_pattern)[count[fires] % len(engine.pulse_pattern)]
    pulses = np.zeros(length)
    pulses[fires] = pattern * np.exp(0.15 * rng.standard_normal(len(fires)))  # cycle-to-cycle variation
    audio = fftconvolve(pulses, resonance_response(engine, sample_rate, rng))[:length]

    # harmonics of the firing rate give the engine its pitch even between the pulses
    angle = 2 * np.pi * firing_phase
    for harmonic in range(1, 5):
        audio += engine.harmonics / harmonic * np.sin(harmonic * angle + rng.uniform(0, 2 * np.pi))

    # intake/exhaust breathing: low-passed noise, louder just after each firing
    noise = lfilter([0.15], [1.0, -0.85], rng.standard_normal(length))
    audio += engine.noise * 4.0 * noise * (0.6 + 0.4 * np.cos(angle))

    if engine.knock:
        envelope = fftconvolve(pulses, np.exp(-np.arange(int(0.003 * sample_rate) + 1) / (0.0008 * sample_rate)))
        clatter = np.diff(rng.standard_normal(length + 1))  # high-passed noise
        audio += engine.knock * envelope[:length] * clatter

    peak = np.abs(audio).max()
    return (audio * (rng.uniform(0.3, 0.8) / peak if peak > 0 else 1.0)).astype(np.float32)


class BuiltinEngines(AudioSource):
    """`builtin:engines`: `--count` clips (default 32) of each engine type, one window long each. A clip depends only
    on (seed, type, clip number, sample rate, length), so asking for more clips keeps the first ones."""

    def scan(self) -> list[Item]:
        self.class_names = [engine.name for engine in ENGINE_TYPES]
        count = self.options.count or DEFAULT_CLIPS_PER_CLASS
        return [Item(f"{engine.name}/{clip:04d}", label, detail=clip)
                for label, engine in enumerate(ENGINE_TYPES) for clip in range(count)]

    def read(self, item: Item, sample_rate: int) -> Iterator[np.ndarray]:
        rng = np.random.default_rng([self.options.seed, item.label, item.detail])
        length = int(round((self.window_seconds or DEFAULT_CLIP_SECONDS) * sample_rate))
        yield synthesize(ENGINE_TYPES[item.label], length, sample_rate, rng)


DIGIT_SIZE = 32


def load_digits_32() -> tuple[np.ndarray, np.ndarray]:
    """Returns the digits as ((N, 32, 32) float32 in [0, 1], top row first; (N,) int64 labels)."""
    from sklearn.datasets import load_digits  # deferred: scikit-learn is slow to import

    digits = load_digits()
    small = torch.from_numpy(digits.images.astype(np.float32) / 16.0)  # (N, 8, 8), pixel values 0..16
    large = F.interpolate(small[:, None], size=(DIGIT_SIZE, DIGIT_SIZE), mode="bilinear", align_corners=False)[:, 0]
    return large.clamp_(0.0, 1.0).numpy(), digits.target.astype(np.int64)


class BuiltinDigits(ArraySource):
    """`builtin:digits`: the 1,797 8x8 digits, classes "0".."9", bilinearly 32x32, in [0, 1], bottom row first."""

    def scan(self) -> list[Item]:
        self.class_names = [str(digit) for digit in range(10)]
        return [Item("sklearn-digits", 0)]

    def probe(self, item: Item) -> tuple[int, int]:
        return DIGIT_SIZE, DIGIT_SIZE

    def read(self, item: Item) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        images, labels = load_digits_32()
        yield np.ascontiguousarray(images[:, ::-1]), labels  # (N, 32, 32), bottom row first
