"""Reconstruction metrics on arrays with known answers; PESQ and STOI only where installed."""

import numpy as np
import pytest

from spectrogen.metrics import reconstruction
from spectrogen.metrics.reconstruction import (SPEECH_EXTRA_HINT, cosine_similarity, log_spectral_distance, mae, mse,
                                               reconstruction_metrics, si_sdr, spectral_convergence)


def test_errors_of_a_known_offset_and_a_cosine_similarity_that_ignores_scale_and_sees_sign():
    ref = np.zeros((2, 4, 4))
    assert mse(ref, ref + 0.5) == pytest.approx(0.25)
    assert mae(ref, ref - 0.5) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        mse(ref, np.zeros((2, 4, 5)))
    x = np.random.default_rng(0).standard_normal((3, 8, 8))
    assert cosine_similarity(x, 3.0 * x) == pytest.approx(1.0)
    assert cosine_similarity(x, -x) == pytest.approx(-1.0)


def test_spectral_convergence_and_log_spectral_distance_of_a_scaled_magnitude():
    magnitude = np.random.default_rng(1).uniform(0.1, 2.0, (2, 16, 10))
    assert spectral_convergence(magnitude, magnitude) == pytest.approx(0.0, abs=1e-7)
    assert spectral_convergence(magnitude, 0.5 * magnitude) == pytest.approx(0.5, rel=1e-5)
    assert log_spectral_distance(magnitude, magnitude) == pytest.approx(0.0, abs=1e-9)
    # twice the magnitude is 20 log10(2) dB in every bin
    assert log_spectral_distance(magnitude, 2.0 * magnitude) == pytest.approx(20 * np.log10(2.0), rel=1e-6)


def test_si_sdr_of_a_scaled_copy_is_unbounded_and_of_noise_very_low():
    rng = np.random.default_rng(2)
    t = np.arange(16000) / 16000
    clean = np.sin(2 * np.pi * 440 * t)[None]
    assert si_sdr(clean, 0.3 * clean)[0] > 100  # +inf, or round-off away from it
    assert si_sdr(clean, rng.standard_normal(clean.shape))[0] < -20
    noisy = clean + 0.1 * rng.standard_normal(clean.shape)  # signal power 0.5, noise 0.01: about 17 dB
    assert si_sdr(clean, noisy)[0] == pytest.approx(10 * np.log10(0.5 / 0.01), abs=0.5)


def test_missing_speech_packages_are_reported_as_skipped(monkeypatch):
    monkeypatch.setattr(reconstruction, "speech_packages_available", lambda: {"pesq": False, "pystoi": False})
    audio = np.random.default_rng(3).standard_normal((1, 8000))
    result = reconstruction_metrics(np.ones((1, 4, 4)), np.ones((1, 4, 4)), reference_audio=audio,
                                    estimate_audio=audio, sample_rate=16000)
    assert result.skipped == {"pesq": SPEECH_EXTRA_HINT, "stoi": SPEECH_EXTRA_HINT}
    assert "si_sdr_db" in result.values and "pesq" not in result.values


@pytest.mark.parametrize("package, score, noise, seed, floor", [("pesq", "pesq_score", 0.3, 5, None),
                                                                ("pystoi", "stoi_score", 1.0, 6, 0.99)])
def test_speech_scores_rate_a_clean_copy_above_a_noisy_one(package, score, noise, seed, floor):
    pytest.importorskip(package, reason=SPEECH_EXTRA_HINT)
    t = np.arange(32000) / 16000  # 2 s of a speech-like sound
    envelope = 0.5 * (1 + np.sin(2 * np.pi * 3 * t))  # syllable-rate modulation
    voiced = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((150, 300, 450, 900), start=1))
    clean = (envelope * voiced + 0.01 * np.random.default_rng(4).standard_normal(t.shape))[None]
    noisy = clean + noise * np.random.default_rng(seed).standard_normal(clean.shape)
    same, other = (getattr(reconstruction, score)(clean, estimate, 16000) for estimate in (clean, noisy))
    assert same > other and (floor is None or same > floor > other)  # STOI: near one for a clean copy
