"""The CUDA paths: training every family with the performance options, sampling, the front-end.

Skipped where no CUDA device is present (the CI machine has none); run on a GPU machine with
`python -m pytest tests/gpu`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from spectrogen.cli.main import main
from spectrogen.spectral.griffin_lim import griffin_lim
from spectrogen.spectral.stft import stft

import os

# SPECTROGEN_TEST_DEVICE=cpu runs the same checks on the CPU (to check the tests themselves).
DEVICE = os.environ.get("SPECTROGEN_TEST_DEVICE", "cuda")
pytestmark = pytest.mark.skipif(DEVICE == "cuda" and not torch.cuda.is_available(),
                                reason="needs a CUDA device (the CI machine has none)")

RATE = 16000


def write_tones(folder: Path, classes: int = 2, per_class: int = 12) -> Path:
    """Writes 1.2 s tones, one pitch range per class sub-folder."""
    rng = np.random.default_rng(0)
    time = np.arange(int(1.2 * RATE)) / RATE
    for label in range(classes):
        (folder / f"class{label}").mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            pitch = 300.0 * (label + 1) + rng.uniform(-40, 40)
            audio = 0.4 * np.sin(2 * np.pi * pitch * time) + 0.01 * rng.standard_normal(time.size)
            soundfile.write(folder / f"class{label}" / f"{index}.wav", audio.astype(np.float32), RATE)
    return folder


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cuda")
    source = write_tones(root / "audio")
    assert main(["prepare", str(source), "--out", str(root / "data"), "--quiet"]) == 0
    return root / "data"


FAMILIES = {
    "dcgan": [],
    "specgan": [],
    "cgan": [],
    "diffusion": ["--set", "model.diffusion.base_channels=16"],
    "autoencoder": [],
}


@pytest.mark.parametrize("options", [
    ["--set", "training.precision=auto"],
    ["--set", "training.precision=fp16", "--set", "training.channels_last=true"],
    ["--set", "training.compile=true"],
], ids=["auto-precision", "fp16-channels-last", "compile"])
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_family_trains_on_cuda_with_the_performance_options(prepared, tmp_path, family, options):
    out = tmp_path / "run"
    if family == "autoencoder":
        pytest.skip("the autoencoder trains on its own mel representation (covered by the CPU suite)")
    code = main(["train", "--data", str(prepared), "--config", "test", "--model", family, "--device", DEVICE,
                 "--epochs", "2", "--batch-size", "8", "--image-size", "64", "--output-dir", str(out),
                 "--set", "training.max_steps_per_epoch=3", "--quiet", *FAMILIES[family], *options])
    assert code == 0
    rows = (out / "epochs_statistics" / "epoch_statistics.csv").read_text().splitlines()
    assert len(rows) == 3
    header = rows[0].split(",")
    last = dict(zip(header, rows[-1].split(",")))
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
    rng = np.random.default_rng(1)
    audio = torch.from_numpy(rng.standard_normal((4, 16384)).astype(np.float32))
    window = torch.hann_window(256, periodic=True)
    cpu = stft(audio, window, 128)
    gpu = stft(audio.cuda(), window.cuda(), 128).cpu()
    torch.testing.assert_close(gpu, cpu, rtol=1e-4, atol=1e-3)
    magnitude = cpu.abs()
    generator = torch.Generator(device="cuda").manual_seed(0)
    rebuilt = griffin_lim(magnitude.cuda(), window.cuda(), 128, n_iter=32, generator=generator)
    again = stft(rebuilt, window.cuda(), 128).abs().cpu()
    convergence = (torch.linalg.norm(again - magnitude) / torch.linalg.norm(magnitude)).item()
    assert convergence < 0.5 and json.dumps(convergence)
