"""`spectrogen reconstruct`: audio and data sets through a trained autoencoder, and what it refuses."""

import numpy as np
import pytest
import soundfile
import torch

from spectrogen.cli.main import main
from spectrogen.data.dataset import SpectrogramDataset
from spectrogen.data.prepare import prepare
from spectrogen.errors import InputError
from spectrogen.report.reconstruction import reconstruct
from spectrogen.sampling.load import load_generator
from spectrogen.training.csv_log import CsvLog

RATE = 8000
WINDOW = 32 * 64  # samples per example of the tiny run's representation


def test_long_stereo_audio_is_windowed_reconstructed_and_joined_to_its_length(autoencoder_run, tmp_path, listen):
    seconds = 2.3 * WINDOW / RATE  # two and a bit windows
    t = np.arange(int(seconds * 16000)) / 16000
    stereo = np.stack([0.3 * np.sin(2 * np.pi * 440 * t), 0.3 * np.sin(2 * np.pi * 660 * t)], axis=1)
    soundfile.write(tmp_path / "song.flac", stereo.astype(np.float32), 16000)

    report = reconstruct(autoencoder_run["checkpoint"], tmp_path / "song.flac", tmp_path / "out")
    expected = round(seconds * RATE)
    for kind in ("original", "griffin_lim", "reconstructed"):
        audio, rate = soundfile.read(tmp_path / "out" / f"song_{kind}.wav")
        assert rate == RATE
        assert abs(len(audio) - expected) <= 2  # resampling rounds the length
    # as heard: the input at its own level (two 0.3 sines mixed to mono: -16.5 dBFS RMS), the
    # Griffin-Lim path within 3 dB of it, and no file louder at its edges (one hop) than in its body
    original, _ = listen(tmp_path / "out" / "song_original.wav", edge=64)
    assert abs(original - 20 * np.log10(0.3 / 2)) < 1.0
    for kind in ("original", "griffin_lim", "reconstructed"):
        level, edge_over_body = listen(tmp_path / "out" / f"song_{kind}.wav", edge=64)
        assert edge_over_body <= 1.5, (kind, edge_over_body)
    assert abs(listen(tmp_path / "out" / "song_griffin_lim.wav", edge=64)[0] - original) < 3.0
    (row,) = CsvLog(tmp_path / "out" / "metrics.csv").rows()
    assert row["input"] == "song.flac" and row["windows"] == 3
    for key in ("mse", "mae", "cosine_similarity", "spectral_convergence", "si_sdr_db", "si_sdr_db_griffin_lim"):
        assert np.isfinite(float(row[key])), key
    assert (tmp_path / "out" / "song_spectrogram_comparison.png").stat().st_size > 0
    assert "mse" in report.table and "song.flac" in report.table


def test_a_folder_is_read_in_order_and_limited_by_n(autoencoder_run, tmp_path):
    report = reconstruct(autoencoder_run["checkpoint"], autoencoder_run["audio"], tmp_path / "out", n=2,
                         griffin_lim_iters=2)
    assert [row["input"] for row in report.rows] == ["tone_0.wav", "tone_1.wav"]
    assert len(CsvLog(tmp_path / "out" / "metrics.csv").rows()) == 2


def test_a_data_set_gives_evenly_spread_examples_a_grid_and_wav_pairs(autoencoder_run, tmp_path):
    report = reconstruct(autoencoder_run["checkpoint"], autoencoder_run["data"], tmp_path / "out", n=3,
                         griffin_lim_iters=2)
    assert len(report.rows) == 3
    first, last = report.rows[0]["input"], report.rows[-1]["input"]
    assert first == "example 0" and last != first
    index = first.split()[-1]
    for kind in ("griffin_lim", "reconstructed"):
        audio, rate = soundfile.read(tmp_path / "out" / f"example_{index}_{kind}.wav")
        assert rate == RATE and len(audio) == WINDOW
    assert (tmp_path / "out" / "spectrogram_comparison.png").stat().st_size > 0
    # the same examples through the model directly give the same spectrogram error
    model = load_generator(autoencoder_run["checkpoint"])
    features = torch.from_numpy(np.array(SpectrogramDataset.open(autoencoder_run["data"]).features[[0]]))
    x = model.normalizer(features).unsqueeze(1)
    assert report.rows[0]["mse"] == pytest.approx((model.method.reconstruct(x) - x).square().mean().item(), rel=1e-4)


def test_a_data_set_of_another_representation_is_refused(autoencoder_run, tmp_path):
    other = tmp_path / "other"
    prepare(autoencoder_run["audio"], other, representation="autoencoder",
            settings={"sample_rate": 8000, "n_fft": 128, "hop_length": 32, "n_mels": 16, "frames": 32}, quiet=True)
    with pytest.raises(InputError, match=r"hop_length 32 \(model: 64\)"):
        reconstruct(autoencoder_run["checkpoint"], other, tmp_path / "out")


def test_cli_names_a_missing_source_and_refuses_a_folder_with_files_unless_overwrite(autoencoder_run, tmp_path,
                                                                                     capsys):
    assert main(["reconstruct", str(autoencoder_run["checkpoint"]), str(tmp_path / "nothing.wav"),
                 "--out", str(tmp_path / "out")]) == 2
    assert "nothing.wav" in capsys.readouterr().err
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    arguments = ["reconstruct", str(autoencoder_run["checkpoint"]), str(autoencoder_run["audio"] / "tone_0.wav"),
                 "--out", str(out), "--griffin-lim-iters", "2", "--quiet"]
    assert main(arguments) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(arguments + ["--overwrite"]) == 0
    assert (out / "keep.txt").read_text() == "mine" and (out / "tone_0_reconstructed.wav").exists()
