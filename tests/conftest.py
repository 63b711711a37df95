import os
from pathlib import Path

import pytest

# the suite runs on 2 CPU cores; more threads only add contention
os.environ.setdefault("OMP_NUM_THREADS", "2")
# folders of tiny models, which run on one thread: on busy cores a second one only adds OpenMP waits
ONE_THREAD = {"demo", "models", "reliability", "report", "sampling", "training"}


@pytest.fixture(autouse=True)
def _torch_threads(request):
    import torch

    folder = Path(request.path).resolve().relative_to(Path(__file__).resolve().parent).parts[0]
    torch.set_num_threads(1 if folder in ONE_THREAD else 2)
    yield
    torch.set_num_threads(2)


@pytest.fixture
def quick_plots(monkeypatch):
    """Makes training write empty files in place of its figures (for tests that do not look at them)."""
    from common import quick_figures

    quick_figures(monkeypatch.setattr)


@pytest.fixture(scope="session")
def autoencoder_run(tmp_path_factory):
    """The paths (audio, data, run, checkpoint) of a tiny autoencoder trained once for the session for 2 epochs on
    four gliding tones, as 0.25 s examples of 16 mel bands x 32 frames at 8 kHz."""
    import numpy as np
    import soundfile
    from spectrogen.api import train
    from spectrogen.config import build_config
    from spectrogen.data.prepare import prepare

    root = tmp_path_factory.mktemp("autoencoder_run")
    audio, data = root / "audio", root / "data"
    audio.mkdir(parents=True)
    t = np.arange(8000) / 8000
    for i in range(4):
        glide = 0.4 * np.sin(2 * np.pi * (300.0 * 2 ** (i / 3) * t + 60.0 * t ** 2))
        soundfile.write(audio / f"tone_{i}.wav", glide.astype(np.float32), 8000)
    settings = {"sample_rate": 8000, "n_fft": 128, "hop_length": 64, "n_mels": 16, "frames": 32}
    prepare(audio, data, representation="autoencoder", settings=settings, quiet=True)
    run = train(build_config({
        "data": {"path": str(data), "normalization": "per_frequency", "validation_fraction": 0.25},
        "model": {"name": "autoencoder", "image_size": 16, "image_width": 32, "latent_dim": 8,
                  "autoencoder": {"hidden_channels": 8, "blocks": 2}},
        "training": {"epochs": 2, "batch_size": 4, "device": "cpu", "seed": 0},
        "output": {"output_dir": str(root / "run"), "plot_every": 100, "num_samples": 4, "report": False,
                   "griffin_lim_iterations": 4},
    }), quiet=True)
    return {"audio": audio, "data": data, "run": run, "checkpoint": run / "checkpoints" / "final_model.tar"}


@pytest.fixture
def listen():
    """Returns `hear(path, edge=128)` -> (RMS in dBFS, edge peak / body peak) of a written .wav file; the edges
    are its first and last `edge` samples (a SpecGAN hop: where a click would be)."""
    import numpy as np
    import soundfile

    def hear(path, edge: int = 128) -> tuple[float, float]:
        audio, _ = soundfile.read(str(path), dtype="float64")
        body = np.abs(audio[edge:-edge]).max()
        edges = max(np.abs(audio[:edge]).max(), np.abs(audio[-edge:]).max())
        rms = float(np.sqrt(np.mean(audio * audio)))
        return (20 * np.log10(rms) if rms > 0 else -np.inf), (edges / body if body > 0 else np.inf)

    return hear


# --- the reliability battery's count (tests/reliability/, docs/reliability.md) ------------------------
BATTERY = {"bad_input": "bad inputs", "kill_point": "kill points", "data_loss": "data-loss checks"}


def pytest_terminal_summary(terminalreporter):
    """Prints how many cases of each kind the reliability battery ran and passed (a test may loop over cases)."""
    counts = {marker: [0, 0] for marker in BATTERY}
    for outcome in ("passed", "failed", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            if getattr(report, "when", "call") != "call" and outcome == "passed":
                continue
            cases = int(dict(getattr(report, "user_properties", [])).get("cases", 1))
            for marker in BATTERY:
                if marker in getattr(report, "keywords", {}):
                    counts[marker][0] += cases
                    counts[marker][1] += cases if outcome == "passed" else 0
    if any(total for total, _ in counts.values()):
        parts = [f"{total} {BATTERY[marker]} ({passed} passed)" for marker, (total, passed) in counts.items()]
        terminalreporter.write_line("reliability battery: " + ", ".join(parts))
