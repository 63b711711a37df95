"""The CUDA paths: every GAN and diffusion family trains with the performance options and samples, and the
front-end matches the CPU. Skipped without CUDA; SPECTROGEN_TEST_DEVICE=cpu runs the checks on the CPU."""

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from spectrogen.cli.main import main
from spectrogen.spectral.griffin_lim import griffin_lim
from spectrogen.spectral.stft import stft

from common import epoch_rows, write_tone

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
    for label, index in np.ndindex(2, 12):
        write_tone(root / "audio" / f"class{label}" / f"{index}.wav", 300.0 * (label + 1) + rng.uniform(-40, 40),
                   1.2, RATE, amplitude=0.4)
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
    assert main(["train", "--data", str(prepared), "--config", "test", "--model", family, "--device", DEVICE,
                 "--epochs", "2", "--batch-size", "8", "--image-size", "64", "--output-dir", str(out),
                 "--set", "training.max_steps_per_epoch=3", "--quiet", *FAMILIES[family], *options]) == 0
    rows = epoch_rows(out)
    losses = [value for key, value in rows[-1].items() if key.startswith("loss") and value is not None]
    assert len(rows) == 2 and losses and all(np.isfinite(losses))
    assert rows[-1].get("peak_memory_mb") is None or rows[-1]["peak_memory_mb"] > 0
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
    torch.testing.assert_close(stft(audio.to(DEVICE), window.to(DEVICE), 128).cpu(), cpu, rtol=1e-4, atol=1e-3)
    magnitude = cpu.abs()
    generator = torch.Generator(device=DEVICE).manual_seed(0)
    rebuilt = griffin_lim(magnitude.to(DEVICE), window.to(DEVICE), 128, n_iter=32, generator=generator)
    again = stft(rebuilt, window.to(DEVICE), 128).abs().cpu()
    assert (torch.linalg.norm(again - magnitude) / torch.linalg.norm(magnitude)).item() < 0.5
