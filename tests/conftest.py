import os

import pytest

# the suite runs on 2 CPU cores; more threads only add contention
os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(autouse=True)
def _torch_threads():
    import torch

    torch.set_num_threads(2)
    yield


@pytest.fixture
def one_thread():
    """Runs tiny models on one thread: on busy cores a second one only adds OpenMP waits."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def quick_plots(monkeypatch):
    """Makes training write empty files in place of its figures (for tests that do not look at them)."""
    from common import quick_figures

    quick_figures(monkeypatch.setattr)


@pytest.fixture(scope="session")
def autoencoder_run(tmp_path_factory):
    """The paths (audio, data, run, checkpoint) of a tiny autoencoder trained once for the session."""
    from common import train_tiny_autoencoder

    return train_tiny_autoencoder(tmp_path_factory.mktemp("autoencoder_run"))


@pytest.fixture
def listen():
    """Returns `hear(path, edge=128)` -> (RMS in dBFS, edge peak / body peak) of a written .wav file; the edges
    are its first and last `edge` samples (a SpecGAN hop: where an inverse STFT that divides by a tiny window sum
    puts a click)."""
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
