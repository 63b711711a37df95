"""Killing training at any moment loses at most one checkpoint interval, and `--resume` finishes the run with
the numbers of a run that was never interrupted; after each kill every finished file loads."""

import os
import random
import signal

import pytest

from spectrogen.cli.main import main
from spectrogen.data.dataset import SpectrogramDataset
from spectrogen.errors import CheckpointError
from spectrogen.training.checkpoint import find_resume_checkpoint, load_checkpoint, progress_of

from common import assert_same_run, iteration_rows, write_tones
from processes import finish, kill_hard, start_cli, steps_done, wait_for_step, wait_until
from reliability_helpers import check_run_files, epoch_numbers, prepare_quietly, train_args

pytestmark = pytest.mark.kill_point

EPOCHS = 8
STEPS_PER_EPOCH = 6  # 24 windows, batch 4
CHECKPOINT_EVERY = 2
RUN_SETTINGS = ["--set", f"output.checkpoint_every={CHECKPOINT_EVERY}", "--set", "output.keep_checkpoints=2",
                "--set", "output.log_every=1", "--seed", "3"]


@pytest.fixture(scope="module")
def audio_data(tmp_path_factory):
    """A data set of 24 windows of 32 x 32 from four synthetic tones, made by `spectrogen prepare`."""
    root = tmp_path_factory.mktemp("crash")
    data = prepare_quietly(write_tones(root / "recordings"), root / "data", "--image-size", "32", "--window-hop", "0.1")
    assert SpectrogramDataset.open(data).features.shape == (STEPS_PER_EPOCH * 4, 32, 32)
    return data


def command(data, run, epochs=EPOCHS):
    return train_args(data, run, *RUN_SETTINGS, epochs=epochs)


def assert_resumable(run, lost_at_most_steps):
    """Checks every file of `run`; returns the "trainer" entry of the checkpoint a resume would start from."""
    check_run_files(run)
    done = steps_done(run)
    checkpoint = load_checkpoint(find_resume_checkpoint(run))
    saved = checkpoint["trainer"]
    epoch, step_in_epoch = progress_of(checkpoint)
    assert saved["global_step"] == epoch * STEPS_PER_EPOCH + step_in_epoch
    assert done - saved["global_step"] <= lost_at_most_steps, (done, saved["global_step"])
    # every finished epoch row is kept; the rows a resume will redo are at most one interval
    assert len(epoch_numbers(run)) - epoch <= CHECKPOINT_EVERY
    return saved


def resume(run, log, stall=None):
    return start_cli(["train", "--resume", run, "--quiet"], log, stall)


@pytest.mark.slow  # six training processes and a reference run
def test_kills_at_random_moments_and_inside_checkpoint_writes_lose_at_most_one_interval(
        audio_data, tmp_path, quick_plots, record_property):
    record_property("cases", 5)  # the battery counts the five kill points below
    rng = random.Random(20240607)
    run, log = tmp_path / "run", tmp_path / "train.log"
    interval = CHECKPOINT_EVERY * STEPS_PER_EPOCH

    # 1. SIGKILL at a random step after the first checkpoint (end of epoch 2), before epoch 5 ends
    target = rng.randint(interval + 1, 4 * STEPS_PER_EPOCH + 4)
    process = start_cli(command(audio_data, run), log)
    wait_for_step(run, target, process, log)
    kill_hard(process)
    saved = assert_resumable(run, interval)

    # 2. SIGKILL at a random step of the resumed run (it restarts from its checkpoint, forgetting what came after)
    target = saved["global_step"] + rng.randint(2, STEPS_PER_EPOCH + 4)
    process = resume(run, log)
    wait_for_step(run, target, process, log)
    kill_hard(process)
    saved = assert_resumable(run, interval)

    # 3. Ctrl-C at a random step: the step finishes, final_model.tar is written, exit code 130
    target = saved["global_step"] + rng.randint(2, STEPS_PER_EPOCH + 2)
    process = resume(run, log)
    wait_for_step(run, target, process, log)
    os.kill(process.pid, signal.SIGINT)
    assert finish(process, log) == 130
    printed = log.read_text(errors="replace")
    assert f"spectrogen train --resume {run}" in printed and "Traceback" not in printed, printed[-3000:]
    assert check_run_files(run) == []
    interrupted = load_checkpoint(run / "checkpoints" / "final_model.tar")["trainer"]
    assert interrupted["global_step"] == steps_done(run) >= target  # nothing done after the checkpoint
    saved = assert_resumable(run, 0)
    assert saved["global_step"] == interrupted["global_step"]

    # 4. SIGKILL half-way through writing the next rolling checkpoint
    epoch = (saved["epoch"] // CHECKPOINT_EVERY + 1) * CHECKPOINT_EVERY
    name, marker = f"checkpoint_epoch_{epoch}.tar", tmp_path / "stalled_half"
    process = resume(run, log, stall=(name, "half", marker))
    wait_until(marker.exists, process, log, f"the write of {name}")
    kill_hard(process)
    half_written = list((run / "checkpoints").glob(f".{name}.*.tmp"))
    assert len(half_written) == 1 and not (run / "checkpoints" / name).exists()
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(half_written[0])  # the kill really came in the middle of the file
    saved = assert_resumable(run, interval)
    assert saved["epoch"] < epoch

    # 5. SIGKILL after the last epoch, with final_model.tar whole in its temporary file but not renamed
    marker = tmp_path / "stalled_rename"
    process = resume(run, log, stall=("final_model.tar", "rename", marker))
    wait_until(marker.exists, process, log, "the write of final_model.tar")
    kill_hard(process)
    stale = load_checkpoint(run / "checkpoints" / "final_model.tar")["trainer"]  # the one step 3 wrote
    assert stale["global_step"] == interrupted["global_step"]
    assert epoch_numbers(run) == list(range(1, EPOCHS + 1))
    assert_resumable(run, interval)
    # what a kill inside the (quick) samples write or a CSV rewrite leaves: half a temporary file
    samples = (run / "samples" / f"epoch_{EPOCHS:03d}.npy").read_bytes()
    (run / "samples" / f"epoch_{EPOCHS:03d}.npy.tmp").write_bytes(samples[: len(samples) // 2])
    table = (run / "epochs_statistics" / "epoch_statistics.csv").read_text()
    (run / "epochs_statistics" / "epoch_statistics.csv.tmp").write_text(table[: len(table) // 2])

    # the resume finishes the run: final_model.tar, one row per epoch, every step once
    process = resume(run, log)
    assert finish(process, log) == 0, log.read_text(errors="replace")[-3000:]
    assert check_run_files(run) == []  # the resume removed what the kills left half-written
    final = load_checkpoint(run / "checkpoints" / "final_model.tar")["trainer"]
    assert (final["epoch"], final["global_step"], final["step_in_epoch"]) == (EPOCHS, EPOCHS * STEPS_PER_EPOCH, 0)
    assert epoch_numbers(run) == list(range(1, EPOCHS + 1))
    per_epoch = [iteration_rows(run, epoch) for epoch in range(1, EPOCHS + 1)]
    assert all([row["iteration"] for row in rows] == list(range(1, STEPS_PER_EPOCH + 1)) for rows in per_epoch)
    assert [row["global_step"] for rows in per_epoch for row in rows] == list(range(1, EPOCHS * STEPS_PER_EPOCH + 1))
    assert sorted(path.name for path in (run / "samples").glob("*.npy")) == \
        [f"epoch_{epoch:03d}.npy" for epoch in range(1, EPOCHS + 1)]

    # and it ends where a run that was never interrupted ends
    reference = tmp_path / "reference"
    assert main(command(audio_data, reference)) == 0
    # one thread in every process (start_cli, ONE_THREAD in tests/conftest.py): the same operations in order
    assert_same_run(run, reference, ("loss_g", "loss_d", "grad_norm_d"), rel=1e-5)
