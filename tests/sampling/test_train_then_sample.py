"""The whole path: recordings -> prepare -> train (briefly) -> `spectrogen sample` -> .wav at the data's rate."""

import json

import numpy as np
import soundfile

from spectrogen.cli.main import main
from spectrogen.config import build_config
from spectrogen.data import SpectrogramDataset, prepare
from spectrogen.api import train


def test_a_trained_checkpoint_samples_to_audio(tmp_path, capsys, listen):
    source = tmp_path / "recordings"
    source.mkdir()
    rate, seconds = 16000, 1.1
    t = np.arange(int(rate * seconds)) / rate
    for i, frequency in enumerate((220.0, 330.0, 440.0, 550.0)):
        soundfile.write(source / f"tone{i}.wav", (0.4 * np.sin(2 * np.pi * frequency * t)).astype(np.float32), rate)
    prepare(source, tmp_path / "data", representation="specgan", settings={"image_size": [32, 32]}, quiet=True)
    config = build_config({
        "data": {"path": str(tmp_path / "data")},
        "model": {"name": "specgan", "image_size": 32, "features_g": 4, "features_d": 4, "latent_dim": 8},
        "training": {"epochs": 1, "batch_size": 2, "device": "cpu", "critic_steps": 1},
        "output": {"output_dir": str(tmp_path / "run"), "num_samples": 2, "report": False, "plot_every": 100},
    })
    train(config, quiet=True)
    checkpoint = tmp_path / "run" / "checkpoints" / "final_model.tar"

    out = tmp_path / "samples"
    assert main(["sample", str(checkpoint), "--n", "2", "--out", str(out), "--format", "wav",
                 "--griffin-lim-iters", "4", "--seed", "0", "--quiet"]) == 0, capsys.readouterr().err
    representation = SpectrogramDataset.open(tmp_path / "data").representation
    assert json.loads((out / "sampling.json").read_text())["representation"] == representation.to_dict()
    for name in ("sample_01.wav", "sample_02.wav"):
        clip, clip_rate = soundfile.read(out / name, dtype="float32")
        assert clip_rate == representation.sample_rate and clip.shape == (representation.num_samples,)
        assert np.isfinite(clip).all()
        # sound at the level the spectrogram implies, not silence, and no click at the edges (the
        # old inverse put each file's peak at sample 1-3 and left the body at -66 to -77 dBFS)
        level, edge_over_body = listen(out / name)
        assert level > -60 and edge_over_body <= 1.5, (name, level, edge_over_body)
    assert np.load(out / "samples.npy").shape == (2, 1, 32, 32)


def test_clips_longer_than_a_second_from_prepare_frames_to_a_longer_wav(tmp_path, capsys, listen):
    # 256 frames of SpecGAN's 128-sample hop are 2.048 s at 16 kHz; the model follows the data set's
    # 64 x 256 (frequency x time) without being told, as `prepare --frames` set it
    source = tmp_path / "recordings"
    source.mkdir()
    rate = 16000
    rng = np.random.default_rng(3)
    t = np.arange(int(rate * 2.5)) / rate
    for i, frequency in enumerate((180.0, 260.0, 390.0, 520.0)):
        pulses = 0.5 + 0.5 * np.sin(2 * np.pi * (3 + i) * t)  # an engine-like pulse, so each window differs in time
        clip = 0.3 * pulses * np.sin(2 * np.pi * frequency * t) + 0.01 * rng.standard_normal(t.size)
        soundfile.write(source / f"engine{i}.wav", clip.astype(np.float32), rate)
    data, run = tmp_path / "data", tmp_path / "run"
    assert main(["prepare", str(source), "--out", str(data), "--frames", "256", "--image-size", "64x256",
                 "--slicing", "windows", "--quiet"]) == 0, capsys.readouterr().err
    assert SpectrogramDataset.open(data).shape == (64, 256)
    assert main(["train", "--config", "test", "--model", "specgan", "--data", str(data), "--epochs", "1",
                 "--batch-size", "2", "--features-g", "4", "--features-d", "4", "--output-dir", str(run),
                 "--set", "output.report=false", "--set", "output.num_samples=2", "--quiet"]) == 0, \
        capsys.readouterr().err
    saved = json.loads((run / "epochs_statistics" / "experiment_config.json").read_text())["model"]
    assert (saved["image_size"], saved["image_width"]) == (64, 256)

    out = tmp_path / "samples"
    assert main(["sample", str(run / "checkpoints" / "final_model.tar"), "--n", "2", "--out", str(out),
                 "--format", "npy,wav", "--griffin-lim-iters", "4", "--seed", "0", "--quiet"]) == 0, \
        capsys.readouterr().err
    assert np.load(out / "samples.npy").shape == (2, 1, 64, 256)
    for name in ("sample_01.wav", "sample_02.wav"):
        clip, clip_rate = soundfile.read(out / name, dtype="float32")
        assert clip_rate == rate and clip.shape == (256 * 128,), clip.shape  # 2.048 s, not 1 s
        level, edge_over_body = listen(out / name)
        assert level > -60 and edge_over_body <= 1.5, (name, level, edge_over_body)
