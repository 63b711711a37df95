"""The CUDA paths: every GAN and diffusion family trains with the performance options, samples, and the
front-end matches the CPU. Skipped without a CUDA device; SPECTROGEN_TEST_DEVICE=cpu runs the same checks
on the CPU (to check the tests themselves)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from spectrogen.cli.main import main
from spectrogen.spectral.griffin_lim import griffin_lim
from spectrogen.spectral.stft import stft

DEVICE = os.environ.get("SPECTROGEN_TEST_DEVICE", "cuda")
pytestmark = pytest.mark.skipif(DEVICE == "cuda" and not torch.cuda.is_available(),
                                reason="needs a CUDA device (the CI machine has none)")
RATE = 16000
# the autoencoder trains on its own mel representation: the CPU suite covers it
FAMILIES = {"dcgan": [], "specgan": [], "cgan": [], "diffusion": ["--set", "model.diffusion.base_channels=16"]}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    """A prepared data set of 1.2 s tones, 12 in each of two classes (one pitch range each)."""
    root = tmp_path_factory.mktemp("cuda")
    rng = np.random.default_rng(0)
    time = np.arange(int(1.2 * RATE)) / RATE
    for label in range(2):
        (root / "audio" / f"class{label}").mkdir(parents=True)
        for index in range(12):
            pitch = 300.0 * (label + 1) + rng.uniform(-40, 40)
            audio = 0.4 * np.sin(2 * np.pi * pitch * time) + 0.01 * rng.standard_normal(time.size)
            soundfile.write(root / "audio" / f"class{label}" / f"{index}.wav", audio.astype(np.float32), RATE)
    assert main(["prepare", str(root / "audio"), "--out", str(root / "data"), "--quiet"]) == 0
    return root / "data"


@pytest.mark.parametrize("options", [
    ["--set", "training.precision=auto"],
    ["--set", "training.precision=fp16", "--set", "training.channels_last=true"],
    ["--set", "training.compile=true"],
], ids=["auto-precision", "fp16-channels-last", "compile"])
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_family_trains_on_cuda_with_the_performance_options(prepared, tmp_path, family, options):
    out = tmp_path / "run"
    code = main(["train", "--data", str(prepared), "--config", "test", "--model", family, "--device", DEVICE,
                 "--epochs", "2", "--batch-size", "8", "--image-size", "64", "--output-dir", str(out),
                 "--set", "training.max_steps_per_epoch=3", "--quiet", *FAMILIES[family], *options])
    assert code == 0
    rows = (out / "epochs_statistics" / "epoch_statistics.csv").read_text().splitlines()
    assert len(rows) == 3
    last = dict(zip(rows[0].split(","), rows[-1].split(",")))
    losses = [float(value) for key, value in last.items() if key.startswith("loss") and value]
    assert losses and all(np.isfinite(losses))
    if "peak_memory_mb" in last:
        assert float(last["peak_memory_mb"]) > 0
    samples = sorted((out / "samples").glob("epoch_*.npy"))
    assert samples and np.isfinite(np.load(samples[-1])).all()
    wavs = tmp_path / "wavs"
    assert main(["sample", str(out / "checkpoints" / "final_model.tar"), "--n", "4", "--format", "wav",
                 "--out", str(wavs), "--device", DEVICE]) == 0
    assert len(list(wavs.glob("*.wav"))) == 4


def test_front_end_on_cuda_matches_cpu():
    audio = torch.from_numpy(np.random.default_rng(1).standard_normal((4, 16384)).astype(np.float32))
    window = torch.hann_window(256, periodic=True)
    cpu = stft(audio, window, 128)
    torch.testing.assert_close(stft(audio.cuda(), window.cuda(), 128).cpu(), cpu, rtol=1e-4, atol=1e-3)
    magnitude = cpu.abs()
    generator = torch.Generator(device="cuda").manual_seed(0)
    rebuilt = griffin_lim(magnitude.cuda(), window.cuda(), 128, n_iter=32, generator=generator)
    again = stft(rebuilt, window.cuda(), 128).abs().cpu()
    assert (torch.linalg.norm(again - magnitude) / torch.linalg.norm(magnitude)).item() < 0.5
