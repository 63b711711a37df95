"""`spectrogen sample` end to end: its files, per-class names, audio, refusals before writing (also: reliability/)."""

import json

import numpy as np
import pytest
import soundfile
import torch

from spectrogen.cli.main import main
from spectrogen.sampling.audio import decibels, rms_level, set_level, to_audio
from spectrogen.sampling.generate import generate
from spectrogen.sampling.load import load_generator
from spectrogen.spectral.moments import Moments
from spectrogen.spectral.normalization import Normalizer
from spectrogen.spectral.representation import Representation

from common import assert_refused, run_cli

# SpecGAN's STFT resized to the tiny test model's 32 x 32
REPRESENTATION = Representation.preset("specgan", image_size=[32, 32])


@pytest.fixture
def audio_checkpoint(gan_checkpoint):
    moments = Moments(mean=np.linspace(-8, -3, 32), std=np.full(32, 1.5), min=-13.8, max=1.0, count=1000)
    return gan_checkpoint("specgan", normalizer=Normalizer("per_frequency", moments).to_dict(),
                          representation=REPRESENTATION.to_dict())[0]


def test_npy_png_and_wav_outputs(audio_checkpoint, tmp_path, capsys):
    out = tmp_path / "out"
    run_cli(["sample", audio_checkpoint, "--n", "3", "--out", out, "--format", "npy,png,wav", "--seed", "4",
             "--griffin-lim-iters", "4", "--batch-size", "2"], capsys, ok=True)
    samples = np.load(out / "samples.npy")
    model = load_generator(audio_checkpoint)
    expected = generate(model, 3, seed=4, batch_size=2)
    assert samples.shape == (3, 1, 32, 32) and samples.dtype == np.float32
    np.testing.assert_allclose(samples, expected.numpy(), atol=1e-6)  # the same batches through the same operations
    assert sorted(p.name for p in out.glob("*.png")) == ["grid.png", "sample_01.png", "sample_02.png", "sample_03.png"]
    record = json.loads((out / "sampling.json").read_text())
    assert record["seed"] == 4 and record["representation"]["kind"] == "stft" and record["sample_rate"] == 16000

    # each .wav is the spectrogram denormalised with the saved moments and inverted, at the level the
    # spectrogram implies (turned down only where it would clip); sampling.json gives each file's RMS
    audio = set_level(np.concatenate([to_audio(expected[i:i + 2], REPRESENTATION, model.normalizer, n_iter=4,
                                               seed=4 + i) for i in (0, 2)]))
    assert record["audio"]["loudness"] == "data" and record["audio"]["phase_init"] == "pghi"
    for i in range(3):
        clip, rate = soundfile.read(out / f"sample_0{i + 1}.wav", dtype="float32")
        assert rate == 16000 and clip.shape == (REPRESENTATION.num_samples,)
        assert soundfile.info(out / f"sample_0{i + 1}.wav").subtype == "PCM_16"
        np.testing.assert_allclose(clip, audio[i], atol=2 / 32768)
        assert np.abs(clip).max() <= 10 ** (-1 / 20) + 1e-4
        assert record["audio"]["rms_dbfs"][i] == pytest.approx(float(decibels(rms_level(clip))), abs=0.1)


def test_loudness_rms_sets_every_file_to_the_same_level(audio_checkpoint, tmp_path):
    out = tmp_path / "out"
    assert main(["sample", str(audio_checkpoint), "--n", "3", "--out", str(out), "--format", "wav", "--seed", "1",
                 "--griffin-lim-iters", "4", "--loudness", "rms"]) == 0
    levels = [float(decibels(rms_level(soundfile.read(out / f"sample_0{i}.wav", dtype="float32")[0])))
              for i in (1, 2, 3)]
    # -20 dBFS RMS, unless the clip's robust peak would pass full scale first (then quieter)
    assert all(-26.0 < level < -19.9 for level in levels), levels
    assert json.loads((out / "sampling.json").read_text())["audio"]["loudness"] == "rms"


def test_conditional_samples_are_split_over_classes_and_named_by_class(gan_checkpoint, tmp_path, capsys):
    path, _ = gan_checkpoint("cgan", classes=("cat", "dog", "owl"))
    out = tmp_path / "all"
    assert main(["sample", str(path), "--n", "5", "--out", str(out), "--format", "png", "--seed", "0"]) == 0
    assert np.load(out / "labels.npy").tolist() == [0, 0, 1, 1, 2]
    assert sorted(p.stem for p in out.glob("*.png")) == ["cat_01", "cat_02", "dog_01", "dog_02", "grid", "owl_01"]
    one = tmp_path / "dog"
    assert main(["sample", str(path), "--n", "2", "--out", str(one), "--class", "dog", "--seed", "0"]) == 0
    assert np.load(one / "labels.npy").tolist() == [1, 1]
    code, _, err = run_cli(["sample", path, "--n", "2", "--out", tmp_path / "x", "--class", "horse"], capsys)
    assert_refused(code, err, "horse", "0: cat, 1: dog, 2: owl")


def test_wav_from_an_image_model_is_refused_before_anything_is_written(gan_checkpoint, tmp_path, capsys):
    path, _ = gan_checkpoint("dcgan")  # no representation: trained on images
    out = tmp_path / "out"
    code, _, err = run_cli(["sample", path, "--n", "2", "--out", out, "--format", "wav"], capsys)
    assert_refused(code, err, "images")
    assert not out.exists()


def test_truncation_on_diffusion_is_noted_and_ignored(gan_checkpoint, tmp_path, capsys):
    path, _ = gan_checkpoint("diffusion")
    out = tmp_path / "out"
    assert main(["sample", str(path), "--n", "1", "--out", str(out), "--truncation", "0.5", "--seed", "3",
                 "--batch-size", "1"]) == 0
    assert "ignored" in capsys.readouterr().err
    assert json.loads((out / "sampling.json").read_text())["truncation"] is None
    again = generate(load_generator(path), 1, seed=3)
    # the same batch of 1 through the same operations
    np.testing.assert_allclose(np.load(out / "samples.npy"), again.numpy(), atol=1e-6)


@pytest.mark.parametrize("option, value", [("--batch-size", "0"), ("--griffin-lim-iters", "0"), ("--truncation", "-1"),
                                           ("--device", "cuda:7")])
def test_impossible_options_exit_2_before_writing(audio_checkpoint, tmp_path, capsys, option, value):
    out = tmp_path / "out"
    arguments = ["sample", str(audio_checkpoint), "--n", "2", "--out", str(out), "--format", "wav", option, value]
    if option == "--device" and torch.cuda.device_count() > 7:
        pytest.skip("this machine has a cuda:7")
    code, _, err = run_cli(arguments, capsys)
    assert_refused(code, err, option)
    assert not out.exists()
