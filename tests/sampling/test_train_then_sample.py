"""The whole path: recordings -> prepare -> train (briefly) -> `spectrogen sample` -> .wav at the data's rate."""

import json

import numpy as np
import soundfile

from spectrogen.data import SpectrogramDataset

from common import run_cli


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
    run_cli(["prepare", source, "--out", data, "--frames", "256", "--image-size", "64x256", "--slicing", "windows",
             "--quiet"], capsys, ok=True)
    assert SpectrogramDataset.open(data).shape == (64, 256)
    run_cli(["train", "--config", "test", "--model", "specgan", "--data", data, "--epochs", "1", "--batch-size", "2",
             "--features-g", "4", "--features-d", "4", "--output-dir", run, "--set", "output.report=false",
             "--set", "output.num_samples=2", "--quiet"], capsys, ok=True)
    saved = json.loads((run / "epochs_statistics" / "experiment_config.json").read_text())["model"]
    assert (saved["image_size"], saved["image_width"]) == (64, 256)

    out = tmp_path / "samples"
    run_cli(["sample", run / "checkpoints" / "final_model.tar", "--n", "2", "--out", out, "--format", "npy,wav",
             "--griffin-lim-iters", "4", "--seed", "0", "--quiet"], capsys, ok=True)
    assert np.load(out / "samples.npy").shape == (2, 1, 64, 256)
    representation = SpectrogramDataset.open(data).representation
    assert json.loads((out / "sampling.json").read_text())["representation"] == representation.to_dict()
    for name in ("sample_01.wav", "sample_02.wav"):
        clip, clip_rate = soundfile.read(out / name, dtype="float32")
        assert clip_rate == rate and clip.shape == (256 * 128,), clip.shape  # 2.048 s, not 1 s
        assert np.isfinite(clip).all()
        # sound at the level the spectrogram implies, not silence, and no click at the edges
        level, edge_over_body = listen(out / name)
        assert level > -60 and edge_over_body <= 1.5, (name, level, edge_over_body)
