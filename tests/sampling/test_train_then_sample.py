"""The whole path: recordings -> prepare -> train (briefly) -> `spectrogen sample` -> .wav at the data's rate."""

import json

import numpy as np
import soundfile

from spectrogen.cli.main import main
from spectrogen.config import build_config
from spectrogen.data import SpectrogramDataset, prepare
from spectrogen.training.api import train


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
