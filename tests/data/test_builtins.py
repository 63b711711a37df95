"""`builtin:engines` and `builtin:digits`: deterministic, physically plausible, learnable classes."""

import numpy as np
import pytest

from spectrogen.data.sources.builtin import ENGINE_TYPES, rpm_curve, synthesize

RATE = 16000


def engine_clip(name, seed, seconds=1.0):
    engine = next(e for e in ENGINE_TYPES if e.name == name)
    return synthesize(engine, int(seconds * RATE), RATE, np.random.default_rng(seed))


def firing_rate(audio):
    """Returns the firing rate (Hz) read from the clip's loudness envelope: its first strong periodicity."""
    frame = 160  # 10 ms envelope frames: smooth over the resonances' ringing, keep the thumps
    envelope = np.sqrt((audio[: len(audio) // frame * frame].reshape(-1, frame) ** 2).mean(axis=1))
    envelope -= envelope.mean()
    correlation = np.correlate(envelope, envelope, "full")[len(envelope) - 1:]
    lags = np.arange(len(correlation)) * frame / RATE
    candidates = [k for k in range(2, len(correlation) // 2)
                  if correlation[k - 1] < correlation[k] >= correlation[k + 1]]
    strongest = max(correlation[k] for k in candidates)
    # the first peak nearly as strong as the strongest: multiples of the period are peaks too
    first = next(k for k in candidates if correlation[k] >= 0.7 * strongest)
    return 1 / lags[first]


def test_single_cylinder_thumps_at_rpm_over_120():
    # four-stroke, one cylinder: one firing every two revolutions, at rpm / 60 * 1 / 2 Hz
    engine = ENGINE_TYPES[0]
    for seed in range(6):
        clip = engine_clip("single", seed, seconds=2.0)
        rpm = rpm_curve(engine, len(clip), RATE, np.random.default_rng(seed))  # the clip's own rpm sweep
        assert firing_rate(clip) == pytest.approx(rpm.mean() / 120, rel=0.1)


def test_clips_are_deterministic_given_the_seed_and_bounded():
    a, b, c = engine_clip("v8", 7), engine_clip("v8", 7), engine_clip("v8", 8)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    for clip in (a, c, engine_clip("diesel", 1)):
        assert clip.dtype == np.float32 and 0.29 < np.abs(clip).max() < 0.81


def test_engine_types_are_distinguishable_by_their_mean_spectrum(prepared):
    _, data = prepared("builtin:engines", count=8)
    assert data.class_names == ["single", "inline4", "v8", "diesel"]
    assert data.features.shape == (32, 128, 128) and data.counts() == {name: 8 for name in data.class_names}
    profiles = np.asarray(data.features).mean(axis=2)  # (N, F): mean log spectrum of each clip
    train, test = np.arange(32) % 8 < 5, np.arange(32) % 8 >= 5
    centroids = np.stack([profiles[train & (data.labels == k)].mean(axis=0) for k in range(4)])
    distances = ((profiles[test][:, None] - centroids[None]) ** 2).sum(axis=2)
    accuracy = (distances.argmin(axis=1) == data.labels[test]).mean()
    assert accuracy >= 0.9  # held-out clips go to their own engine type's centroid


def test_engines_count_and_seed_options(prepared):
    a, b, c = (prepared("builtin:engines", name, count=count, seed=seed)[1]
               for name, count, seed in (("a", 2, 3), ("b", 3, 3), ("c", 2, 4)))
    assert len(a) == 8 and len(b) == 12
    # asking for more clips adds clips and leaves the first ones as they were
    np.testing.assert_array_equal(a.features[a.labels == 2], b.features[b.labels == 2][:2])
    assert not np.allclose(a.features, c.features)


def test_digits_are_32x32_in_01_bottom_row_first(prepared):
    from sklearn.datasets import load_digits

    _, data = prepared("builtin:digits")
    assert data.features.shape == (1797, 32, 32) and data.representation.kind == "image"
    assert data.class_names == [str(d) for d in range(10)]
    assert 0.0 <= data.moments.min and data.moments.max == pytest.approx(1.0, abs=0.05)  # upsampling dims no stroke
    original = load_digits()
    np.testing.assert_array_equal(data.labels, original.target)
    # averaging 4x4 blocks of the upright picture gives back (a blurred) 8x8 digit
    upright = np.asarray(data.features)[:, ::-1]
    pooled = upright.reshape(-1, 8, 4, 8, 4).mean(axis=(2, 4))
    assert np.corrcoef(pooled.ravel(), original.images.ravel())[0, 1] > 0.95
    assert np.corrcoef(pooled[:, ::-1].ravel(), original.images.ravel())[0, 1] < 0.8  # orientation matters
