"""Classifier-free spectral statistics: a textured, checkerboarded run with holes cannot pass for real sound."""

import json

import numpy as np
import pytest
import torch

from spectrogen.data.writer import DatasetWriter
from spectrogen.metrics.checkpoint_evaluation import evaluate_sample_file
from spectrogen.metrics.evaluate import RealReference, evaluate_samples
from spectrogen.metrics.inputs import dataset_normalizer, decibel_mapping, open_data
from spectrogen.metrics.spectral_statistics import (compare_db, lattice_peak_ratio, mid_clip_gaps,
                                                    silence_threshold_db, summarise_db, tonal_prominence_db)
from spectrogen.metrics.table import write_metrics
from spectrogen.spectral.moments import MomentAccumulator
from spectrogen.spectral.normalization import Normalizer
from spectrogen.spectral.representation import Representation

SILENT_DB = -120.0  # digital silence: the floor of magnitudes in dB
DB_COLUMNS = {"level_db_distance", "spread_db_distance", "silent_frames", "silent_frames_real", "silent_mid",
              "silent_mid_real", "tonal_db", "tonal_db_real", "tonal_ratio"}


def _tilted_floor(rows: int, frames: int, rng, level: float = -60.0) -> np.ndarray:
    # a noise floor falling 20 dB from the lowest to the highest frequency, 3 dB of noise per bin
    return level - 20.0 * np.arange(rows)[:, None] / rows + 3.0 * rng.standard_normal((rows, frames))


def real_like(n: int, seed: int, size: tuple[int, int] = (64, 64)) -> np.ndarray:
    """Returns (n, F, T) dB spectrograms: harmonic lines 15-25 dB above a tilted noise floor; a quarter of them
    end in digital silence (a tail, never a gap)."""
    rng = np.random.default_rng(seed)
    rows, frames = size
    f, t = np.arange(rows)[:, None], np.arange(frames)[None, :]
    out = np.empty((n, rows, frames))
    for i in range(n):
        floor = _tilted_floor(rows, frames, rng)
        fundamental, onset = rng.uniform(4.0, 10.0), rng.uniform(0, frames / 4)
        height = np.where(t >= onset, rng.uniform(15, 25) - rng.uniform(0.1, 0.5) * (t - onset), -np.inf)
        power = 10 ** (floor / 10)
        for k in range(1, int((rows - 1) / fundamental) + 1):
            line = np.exp(-0.5 * ((f - k * fundamental) / 0.6) ** 2)  # (F, 1): one or two bins wide
            power = power + line * 10 ** ((-60.0 - 20.0 * f / rows + height - 2.0 * (k - 1)) / 10)
        out[i] = 10 * np.log10(power)
        if rng.random() < 0.25:
            out[i, :, int(rng.uniform(0.75, 0.95) * frames):] = SILENT_DB
    return out


def checkerboard(rows: int, frames: int, period2: float = 2.0, period4: float = 2.0) -> np.ndarray:
    """Returns (F, T) a lattice of period 2 and period 4 pixels, `period2` and `period4` dB high."""
    f, t = np.arange(rows)[:, None], np.arange(frames)[None, :]
    return period2 * (-1.0) ** (f + t) + period4 * np.cos(np.pi * f / 2) * np.cos(np.pi * t / 2)


def bad_run(n: int, seed: int, size: tuple[int, int] = (64, 64)) -> np.ndarray:
    """Returns (n, F, T) dB spectrograms of a bad GAN run: one noise texture with a checkerboard, no harmonic
    lines, and a black block in mid-clip in every third example."""
    rng = np.random.default_rng(seed)
    rows, frames = size
    texture = _tilted_floor(rows, frames, rng, level=-55.0) + checkerboard(rows, frames)
    out = texture + 0.5 * rng.standard_normal((n, rows, frames))
    for i in range(0, n, 3):
        start = int(rng.uniform(0.2, 0.6) * frames)
        out[i, :, start:start + frames // 8] = SILENT_DB
    return out


@pytest.fixture(scope="module")
def sets():
    return {"real": real_like(64, seed=0), "other_real": real_like(64, seed=1), "bad": bad_run(64, seed=2)}


def test_a_bad_run_scores_worse_than_real_data_on_every_spectral_figure(sets):
    real = summarise_db(sets["real"])
    threshold = silence_threshold_db(real)
    other = compare_db(summarise_db(sets["other_real"]), real, threshold)
    bad = compare_db(summarise_db(sets["bad"]), real, threshold)
    # 1.2: real sets of 64 land within a few percent of 1; a checkerboard of 2 dB lands near 10
    assert lattice_peak_ratio(sets["real"]) <= 1.2 and lattice_peak_ratio(sets["other_real"]) <= 1.2
    assert lattice_peak_ratio(sets["bad"]) > 1.2
    # another draw of the same real distribution is the yardstick for the distances
    assert bad["level_db_distance"] > other["level_db_distance"]
    assert bad["spread_db_distance"] > other["spread_db_distance"]
    # the real clips fall silent only at their ends; a third of the bad ones have a hole
    assert other["silent_mid_real"] == 0 and other["silent_mid"] == 0
    assert bad["silent_mid"] > 0.25
    # no harmonic lines: far below the real data's tonal height; another real set about matches it
    assert bad["tonal_ratio"] < 0.5
    assert 0.8 < other["tonal_ratio"] < 1.25


def smooth_texture(n: int, rows: int, frames: int, seed: int) -> np.ndarray:
    """Returns (n, rows, frames) Gaussian-blurred noise with a faint noise of its own, as any recording has."""
    rng = np.random.default_rng(seed)
    kernel = np.exp(-0.5 * (np.arange(-6, 7) / 2.0) ** 2)
    smooth = np.apply_along_axis(np.convolve, 1, rng.standard_normal((n, rows, frames)), kernel, mode="same")
    smooth = np.apply_along_axis(np.convolve, 2, smooth, kernel, mode="same")
    return smooth + 0.01 * rng.standard_normal(smooth.shape)


def test_lattice_peak_ratio_ignores_scale_and_smooth_images_and_sees_a_checkerboard():
    smooth = smooth_texture(32, 64, 64, seed=3)
    plain = lattice_peak_ratio(smooth)
    assert 0.8 < plain < 1.2  # nothing stands out on the lattice of a smooth texture
    assert lattice_peak_ratio(1000.0 * smooth[:, None]) == pytest.approx(plain, rel=1e-6)  # (N, 1, H, W) too
    assert lattice_peak_ratio(smooth + 0.05 * smooth.std() * checkerboard(64, 64, 1.0, 1.0)) > 3 * plain
    wide = smooth_texture(8, 64, 256, seed=4)  # a 64x256 spectrogram has a lattice of its own
    assert 0.8 < lattice_peak_ratio(wide) < 1.2
    assert lattice_peak_ratio(wide + 0.05 * wide.std() * checkerboard(64, 256, 1.0, 1.0)) > 3
    assert lattice_peak_ratio(np.full((4, 1, 32, 32), 7.0)) == 1.0  # no power anywhere: nothing stands out


def test_a_checkerboard_along_frequency_is_not_taken_for_harmonic_lines(sets):
    # a period-2 pattern that holds over time would otherwise stand 2 x its amplitude above a running median
    rng = np.random.default_rng(4)
    rows = np.arange(64)[None, :, None]
    patterned = np.stack([_tilted_floor(64, 64, rng) for _ in range(16)]) + 2.0 * (-1.0) ** rows
    assert tonal_prominence_db(patterned).mean() < 0.1 * tonal_prominence_db(sets["real"]).mean()


def test_a_gap_is_silence_that_sound_follows_and_a_tail_is_not():
    silent = np.array([[0, 0, 1, 1, 0, 0],   # a hole in mid-clip
                       [0, 0, 0, 0, 1, 1],   # a tail: the clip ends there
                       [1, 1, 0, 0, 0, 0],   # a late start: silence, then sound
                       [0, 0, 0, 0, 0, 0]], dtype=bool)
    assert mid_clip_gaps(silent).tolist() == [True, False, True, False]


def test_silence_is_reached_by_the_darkest_frame_a_narrow_space_can_hold(sets):
    real = summarise_db(sets["real"])
    loud = silence_threshold_db(real)
    assert silence_threshold_db(real, darkest_db=loud - 30.0) == loud  # a wide range: 60 dB below the loud frames
    assert silence_threshold_db(real, darkest_db=loud + 20.0) == loud + 23.0  # a narrow one: 3 dB above its floor


def test_evaluate_samples_reports_the_spectral_columns_with_and_without_decibels(sets):
    # an affine map of dB spectrograms (N, F, T) to evaluation-space arrays (N, 1, F, T) of about [-1, 1], and back
    real, bad = (((sets[name] + 60.0) / 60.0).astype(np.float32)[:, None] for name in ("real", "bad"))
    to_db = lambda x: 60.0 * np.asarray(x, dtype=np.float64)[:, 0] - 60.0  # noqa: E731
    with_db = evaluate_samples(bad, RealReference(real, to_db=to_db), metrics="spectral")
    assert DB_COLUMNS | {"artifact_ratio", "artifact_ratio_real"} == set(with_db.metrics)
    assert with_db.metrics["artifact_ratio"] > 1.2 >= with_db.metrics["artifact_ratio_real"]
    assert with_db.metrics["silent_mid"] > with_db.metrics["silent_mid_real"]
    profiles = with_db.info["spectral_profiles"]
    assert all(len(profiles[key]) == 64 for key in ("mean_db", "std_db", "mean_db_real", "std_db_real"))
    assert profiles["mean_db_real"] == pytest.approx(summarise_db(sets["real"]).mean_db, abs=0.01)
    assert "spectral_db" not in with_db.skipped

    without = evaluate_samples(bad, RealReference(real), metrics="spectral")
    assert set(without.metrics) == {"artifact_ratio", "artifact_ratio_real"}
    assert without.metrics["artifact_ratio"] == pytest.approx(with_db.metrics["artifact_ratio"])
    assert "to_db" in without.skipped["spectral_db"] and "spectral_profiles" not in without.info


def log_eps_features(db: np.ndarray) -> torch.Tensor:
    """Returns dB spectrograms (N, F, T) as the log_eps features of their magnitudes, log(M + 1e-6), float32."""
    return torch.log(torch.as_tensor(10 ** (db / 20)) + 1e-6).float()


def test_decibels_come_back_from_the_evaluation_space_on_the_data_sets_grid(sets):
    db = sets["other_real"][:8, :32, :32]  # (8, F, T)
    representation = Representation(kind="stft", image_size=(32, 32), log="log_eps")
    features = log_eps_features(db)
    moments = MomentAccumulator()
    moments.update(features)
    normalizer = Normalizer("minmax", moments.result())  # not clipped: the way back is exact
    to_db, reason = decibel_mapping(normalizer, representation)
    assert reason is None
    back = to_db(normalizer(features).numpy()[:, None])
    assert back.shape == (8, 32, 32) and np.allclose(back, db, atol=1e-3)
    smaller = torch.nn.functional.interpolate(normalizer(features)[:, None], size=(16, 16)).numpy()
    assert to_db(smaller).shape == (8, 32, 32)  # resized back to the data set's grid first
    to_db, reason = decibel_mapping(normalizer, Representation(kind="image", image_size=(32, 32)))
    assert to_db is None and "pictures" in reason  # arrays that never were sound have no decibels


def write_sound_dataset(folder, db: np.ndarray):
    """Returns `folder` after writing unlabelled dB spectrograms (N, F, T) as a log_eps STFT data set."""
    folder.mkdir(parents=True)
    representation = Representation(kind="stft", image_size=db.shape[1:], log="log_eps")
    writer = DatasetWriter(folder, db.shape[1:], [])
    features = log_eps_features(db)
    writer.add(features, np.zeros(len(db), dtype=np.int64), ["synthetic"] * len(db), [0.0] * len(db), range(len(db)))
    writer.finish(representation.to_dict(), {"kind": "synthetic"}, {"examples": len(db)})
    return folder


def test_a_judge_trained_on_few_unlabelled_clips_is_flagged_while_the_spectral_figures_still_judge(
        sets, tmp_path):
    data = write_sound_dataset(tmp_path / "data", sets["real"][:40, :32, :32])
    normalizer = dataset_normalizer(open_data(data))  # per frequency, as the samples of a run would be
    np.save(tmp_path / "samples.npy", normalizer(log_eps_features(sets["bad"][:40, :32, :32])).numpy()[:, None])
    result = evaluate_sample_file(tmp_path / "samples.npy", data, metrics="fid,pr,spectral", log=lambda line: None)
    # 40 unlabelled clips: 32 to train on, 3 k-means pseudo-classes, 8 held out
    trust = result.info["feature_trust"]
    assert result.info["feature_network"]["kind"] == "contrastive" and trust["meaningful"] is False
    assert "pseudo-classes" in trust["reason"]
    assert {"fid", "precision", "recall"} <= set(trust["not_meaningful"])
    assert not DB_COLUMNS & set(trust["not_meaningful"]) and "artifact_ratio" not in trust["not_meaningful"]
    figures = result.metrics
    assert figures["artifact_ratio"] > 1.2 >= figures["artifact_ratio_real"]
    assert figures["tonal_ratio"] < 0.5 and figures["silent_mid"] > figures["silent_mid_real"]
    saved = json.loads(write_metrics(result, tmp_path / "evaluation").read_text())
    assert len(saved["spectral_profiles"]["mean_db"]) == 32 and saved["metrics"]["silent_mid"] > 0
