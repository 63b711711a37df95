"""Real-shaped test audio made in numpy, each clip at about -20 dBFS RMS so that level errors show as dB: engines, a
held note with harmonics and vibrato, speech-like syllables (a gliding pitch through three formants, gaps,
fricatives), noise bursts over a floor. benchmarks/griffin_lim.py uses them too."""

import numpy as np
from scipy.signal import lfilter

KINDS = ("engine", "harmonics", "speech", "noise")
RMS_DBFS = -20.0


def clip(kind: str, samples: int, sample_rate: int, seed: int = 0) -> np.ndarray:
    """Returns one clip (samples,) float32 of `kind` (one of KINDS) at about RMS_DBFS."""
    rng = np.random.default_rng([seed, KINDS.index(kind)])
    t = np.arange(samples) / sample_rate
    if kind == "engine":
        from spectrogen.data.sources.builtin import ENGINE_TYPES, synthesize

        audio = synthesize(ENGINE_TYPES[seed % len(ENGINE_TYPES)], samples, sample_rate, rng).astype(np.float64)
    elif kind == "harmonics":
        f0 = rng.uniform(110.0, 330.0) * (1 + 0.01 * np.sin(2 * np.pi * 5.5 * t))  # vibrato
        phase = 2 * np.pi * np.cumsum(f0) / sample_rate
        audio = sum(np.sin(h * phase + rng.uniform(0, 2 * np.pi)) / h for h in range(1, 11)
                    if h * f0.max() < 0.45 * sample_rate)
        audio *= 0.6 + 0.4 * np.sin(np.pi * t / t[-1])  # a swell over the clip
    elif kind == "speech":
        audio = _speech_like(t, sample_rate, rng)
    elif kind == "noise":
        floor = 0.05 * rng.standard_normal(samples)
        bursts = lfilter([1.0], [1.0, -0.9], rng.standard_normal(samples))
        gate = (np.sin(2 * np.pi * rng.uniform(2.0, 5.0) * t + rng.uniform(0, 2 * np.pi)) > 0.3).astype(float)
        gate = np.convolve(gate, np.hanning(int(0.01 * sample_rate)) / (0.005 * sample_rate), mode="same")
        audio = floor + bursts * gate
    else:
        raise ValueError(f"unknown kind {kind!r}; one of {KINDS}")
    rms = np.sqrt(np.mean(audio * audio))
    return (audio * (10 ** (RMS_DBFS / 20) / rms)).astype(np.float32)


def clips(samples: int, sample_rate: int, per_kind: int = 1) -> tuple[list[str], np.ndarray]:
    """Returns (names, clips (len(KINDS) * per_kind, samples)) of every kind."""
    names, made = [], []
    for kind in KINDS:
        for seed in range(per_kind):
            names.append(f"{kind}_{seed}")
            made.append(clip(kind, samples, sample_rate, seed))
    return names, np.stack(made)


def _speech_like(t: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Returns syllables of a gliding glottal pulse train through three formants, with fricatives between."""
    samples = len(t)
    f0 = rng.uniform(100.0, 200.0) * (1 + 0.25 * np.sin(2 * np.pi * rng.uniform(0.5, 1.5) * t))  # intonation
    phase = np.cumsum(f0) / sample_rate
    glottal = np.diff(np.floor(phase), prepend=0.0)  # one impulse per pitch period
    voiced = np.zeros(samples)
    for formant, bandwidth in ((rng.uniform(500, 800), 80.0), (rng.uniform(1100, 1800), 120.0),
                               (rng.uniform(2300, 2900), 160.0)):
        radius = np.exp(-np.pi * bandwidth / sample_rate)
        theta = 2 * np.pi * formant / sample_rate
        voiced += lfilter([1.0 - radius], [1.0, -2 * radius * np.cos(theta), radius * radius], glottal)
    syllable = 0.5 - 0.5 * np.cos(2 * np.pi * rng.uniform(3.0, 5.0) * t)  # about four syllables a second
    syllable = np.where(syllable > 0.25, syllable, 0.0)  # silent gaps
    fricative = np.diff(rng.standard_normal(samples + 1)) * np.where(syllable == 0, 0.1, 0.0)
    return voiced * syllable + fricative
