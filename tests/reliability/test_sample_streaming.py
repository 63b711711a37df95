"""`spectrogen sample` streams: about one batch in memory, files written batch by batch, the user's files kept,
the first N of 2N samples those of N, an interrupted run's finished files whole and no samples.npy."""

import json
import tracemalloc
from pathlib import Path
from typing import Optional

import numpy as np
import pytest
import soundfile
import torch

from spectrogen.cli import sample as sample_command
from spectrogen.cli.main import main
from spectrogen.sampling import load

from common import assert_refused, run_cli, tree_digest, write_tones
from reliability_helpers import prepare_quietly, train_args

pytestmark = pytest.mark.data_loss

SAMPLE_BYTES = 32 * 32 * 4  # one float32 sample of the tiny model


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A tiny DCGAN trained one step on tones (so it has audio), shared by the tests of this file."""
    root = tmp_path_factory.mktemp("streaming")
    data = prepare_quietly(write_tones(root / "recordings"), root / "data", "--image-size", "32",
                           "--window-hop", "0.1")
    assert main(train_args(data, root / "run", steps=1)) == 0
    return root / "run" / "checkpoints" / "final_model.tar"


class GeneratorWatch:
    """Wraps the generator network of each model `sample` loads, to see what exists while it generates."""

    def __init__(self, out: Path):
        self.out = out
        self.calls: list[tuple[int, list[str]]] = []  # (batch size, entries of --out) at each call
        self.interrupt_at: Optional[int] = None  # the call (counted from 1) that raises KeyboardInterrupt
        self.baseline = 0  # bytes traced when the model was loaded

    def wrap(self, model):
        network = model.method.networks[model.method.sampling_networks[0]]
        forward = network.forward

        def watched(latents, *rest):
            entries = sorted(p.name for p in self.out.iterdir()) if self.out.is_dir() else []
            self.calls.append((len(latents), entries))
            if len(self.calls) == self.interrupt_at:
                raise KeyboardInterrupt
            # a copy that numpy allocates, so that tracemalloc sees how long each batch lives
            return torch.from_numpy(forward(latents, *rest).detach().numpy().copy())

        network.forward = watched
        if tracemalloc.is_tracing():  # the peak of sampling alone, not of reading the checkpoint
            self.baseline = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
        return model


@pytest.fixture
def watch(monkeypatch, tmp_path):
    """A GeneratorWatch of --out tmp_path/out (tests may point `watch.out` elsewhere)."""
    watcher = GeneratorWatch(tmp_path / "out")
    real = load.load_generator
    monkeypatch.setattr(sample_command, "load_generator", lambda *a, **k: watcher.wrap(real(*a, **k)))
    return watcher


def sample(checkpoint: Path, out: Path, capsys, *options) -> tuple[int, str, str]:
    return run_cli(["sample", checkpoint, "--out", out, "--seed", "7", "--quiet", *options], capsys)


def test_many_batches_hold_one_batch_at_a_time(checkpoint, watch, capsys):
    batch, batches = 16, 20
    tracemalloc.start()
    try:
        code, _, err = sample(checkpoint, watch.out, capsys, "--n", batch * batches, "--batch-size", batch)
        peak = tracemalloc.get_traced_memory()[1] - watch.baseline
    finally:
        tracemalloc.stop()
    assert code == 0, err
    assert [size for size, _ in watch.calls] == [batch] * batches
    # while batches are generated, samples.npy is not there under its name: only a whole array is
    assert all("samples.npy" not in entries for _, entries in watch.calls)
    print(f"peak traced while sampling {batches} batches of {batch}: {peak / 1024:.0f} KiB "
          f"(one batch: {batch * SAMPLE_BYTES / 1024:.0f} KiB)")
    assert peak < 3 * batch * SAMPLE_BYTES, f"{peak} bytes traced at the peak"
    samples = np.load(watch.out / "samples.npy", mmap_mode="r")
    assert samples.shape == (batch * batches, 1, 32, 32) and np.isfinite(samples).all()
    assert json.loads((watch.out / "sampling.json").read_text())["n"] == batch * batches


def test_2n_samples_start_with_the_n_samples_of_the_same_seed(checkpoint, watch, tmp_path, capsys):
    formats = ["--format", "npy,png,wav", "--griffin-lim-iters", "2", "--batch-size", "4"]
    small, large = tmp_path / "small", tmp_path / "large"
    watch.out = small
    code, _, err = sample(checkpoint, small, capsys, "--n", "8", *formats)
    assert code == 0, err
    watch.out, watch.calls = large, []
    code, _, err = sample(checkpoint, large, capsys, "--n", "16", *formats)
    assert code == 0, err

    names = [f"sample_{i:02d}" for i in range(1, 17)]
    expected = {"samples.npy", "sampling.json", "grid.png", *(f"{n}.png" for n in names), *(f"{n}.wav" for n in names)}
    assert {p.name for p in large.iterdir()} == expected
    # each batch's images and sounds are on disk before the next batch is generated
    for index, (_, entries) in enumerate(watch.calls):
        done = {f"{n}.{suffix}" for n in names[:4 * index] for suffix in ("png", "wav")}
        assert done <= set(entries), f"batch {index + 1} began before the files of the batches before it"

    first = np.load(large / "samples.npy")
    # the same batches of 4 through the same operations: equal bit for bit
    np.testing.assert_array_equal(first[:8], np.load(small / "samples.npy"))
    for name in names[:8]:
        assert (large / f"{name}.png").read_bytes() == (small / f"{name}.png").read_bytes(), name
        sound, same = soundfile.read(large / f"{name}.wav")[0], soundfile.read(small / f"{name}.wav")[0]
        np.testing.assert_array_equal(sound, same, err_msg=name)
    levels = json.loads((large / "sampling.json").read_text())["audio"]["rms_dbfs"]
    assert len(levels) == 16 and levels[:8] == json.loads((small / "sampling.json").read_text())["audio"]["rms_dbfs"]

    # another batch size draws the same latent vectors: the same samples
    other = tmp_path / "other"
    watch.out = other
    code, _, err = sample(checkpoint, other, capsys, "--n", "16", "--batch-size", "5")
    assert code == 0, err
    # values in [-1, 1]: batches of 5 and of 4 may sum in another order (measured: benchmarks/README.md)
    np.testing.assert_allclose(np.load(other / "samples.npy"), first, rtol=1e-5, atol=1e-5)


def test_an_out_that_is_a_file_or_cannot_be_made_exits_2_before_generating(checkpoint, watch, tmp_path, capsys):
    existing = tmp_path / "existing.txt"
    existing.write_text("the user's notes\n")
    before = tree_digest(tmp_path)
    for out in (existing, existing / "samples"):
        code, out_text, err = sample(checkpoint, out, capsys, "--n", "4")
        assert_refused(code, err, out, "file", alone=True)
        assert out_text == ""
    assert watch.calls == []
    assert tree_digest(tmp_path) == before

    # far past any sensible number: refused at once, nothing made, nothing generated
    code, _, err = sample(checkpoint, tmp_path / "huge", capsys, "--n", "100000000000")
    assert_refused(code, err, "--n", alone=True)
    assert watch.calls == [] and not (tmp_path / "huge").exists()


def test_sample_files_are_kept_without_overwrite_and_other_files_even_with_it(checkpoint, watch, capsys):
    out = watch.out
    code, _, err = sample(checkpoint, out, capsys, "--n", "4", "--format", "npy,png")
    assert code == 0, err
    (out / "notes.txt").write_text("the user's notes\n")
    (out / "sample_05.png").write_bytes(b"not one of a 4-sample run's files")
    before = tree_digest(out)
    watch.calls = []

    code, _, err = sample(checkpoint, out, capsys, "--n", "4", "--format", "npy,png")
    assert code == 2 and "--overwrite" in err and str(out) in err, err
    assert tree_digest(out) == before and watch.calls == []

    # a folder of the user's where an image would go: refused even with --overwrite, before anything changes
    (out / "sample_02.png").unlink()
    (out / "sample_02.png").mkdir()
    (out / "sample_02.png" / "keep.txt").write_text("mine\n")
    before = tree_digest(out)
    code, _, err = sample(checkpoint, out, capsys, "--n", "4", "--format", "npy,png", "--overwrite", "--seed", "8")
    assert_refused(code, err, "sample_02.png", alone=True)
    assert tree_digest(out) == before and watch.calls == []

    (out / "sample_02.png" / "keep.txt").unlink()
    (out / "sample_02.png").rmdir()
    before = tree_digest(out)
    code, _, err = sample(checkpoint, out, capsys, "--n", "4", "--format", "npy,png", "--overwrite", "--seed", "8")
    assert code == 0, err
    after = tree_digest(out)
    for name in ("notes.txt", "sample_05.png"):
        assert after[name] == before[name], name
    assert after["samples.npy"] != before["samples.npy"]


def test_an_interrupted_run_leaves_whole_files_and_no_samples_npy(checkpoint, watch, capsys):
    watch.interrupt_at = 3
    code, _, _ = sample(checkpoint, watch.out, capsys, "--n", "12", "--batch-size", "4", "--format", "npy,png,wav",
                        "--griffin-lim-iters", "2")
    assert code == 130
    left = sorted(p.name for p in watch.out.iterdir())
    assert left == sorted(f"sample_{i:02d}.{suffix}" for i in range(1, 9) for suffix in ("png", "wav"))
    for i in range(1, 9):
        clip, rate = soundfile.read(watch.out / f"sample_{i:02d}.wav")
        assert clip.ndim == 1 and len(clip) > 0 and rate > 0
        assert (watch.out / f"sample_{i:02d}.png").read_bytes().startswith(b"\x89PNG")
