"""No command replaces what it did not write (with --overwrite only its own outputs); a run has a lock, taken
over from a killed process; OS errors on outputs end in one line."""

import warnings
from pathlib import Path

import numpy as np
import pytest

import spectrogen.training.checkpoint as checkpoint_module
from spectrogen.api import train
from spectrogen.cli.main import quiet_library_warnings
from spectrogen.training.checkpoint import load_checkpoint, progress_of

from common import assert_refused, run_cli, tree_digest
from processes import start_cli, wait_until
from reliability_helpers import (epoch_numbers, feature_network, prepare_quietly, train_args, write_files,
                                 write_npy_sources)

pytestmark = pytest.mark.data_loss

RUN_NAMES = {"report.html": "MINE", "plots/gradient_norms.png": "x", "notes.txt": "keep"}


# --- train and demo ------------------------------------------------------------------------------
@pytest.mark.parametrize("command, files, overwrite, named", [
    ("train", RUN_NAMES, False, ["report.html", "plots"]),
    ("train", RUN_NAMES, True, ["report.html", "plots"]),
    ("train", {"checkpoints/mine.txt": "mine"}, False, ["checkpoints"]),  # a folder named so is not a run
    ("demo", {"data/recordings.wav": "RIFF"}, True, ["data"]),
])
def test_a_users_files_with_the_names_of_outputs_are_never_replaced(npy_data, tmp_path, capsys, command, files,
                                                                     overwrite, named):
    out = write_files(tmp_path / "d", files)
    before = tree_digest(out)
    argv = train_args(npy_data, out, steps=2) if command == "train" else ["demo", "--out", out, "--quiet"]
    code, _, err = run_cli([*argv, *(["--overwrite"] if overwrite else [])], capsys)
    assert_refused(code, err, out, *named)
    assert "already holds a training run" not in err
    assert tree_digest(out) == before


@pytest.mark.parametrize("a_run_first", [False, True])
def test_train_overwrite_writes_beside_the_users_files_and_keeps_them(npy_data, tmp_path, capsys, quick_plots,
                                                                      a_run_first):
    out = tmp_path / "d"
    if a_run_first:
        run_cli(train_args(npy_data, out, epochs=2, steps=2), capsys, ok=True)
    write_files(out, {"notes.txt": "keep"})
    before = tree_digest(out)
    code, _, err = run_cli(train_args(npy_data, out, steps=1), capsys)
    assert_refused(code, err, "--overwrite", *(["already holds a training run", "--resume"] if a_run_first
                                               else ["notes.txt"]))
    assert tree_digest(out) == before
    run_cli(train_args(npy_data, out, "--overwrite", steps=1), capsys, ok=True)
    assert (out / "notes.txt").read_text() == "keep" and epoch_numbers(out) == [1]
    assert (out / "checkpoints" / "final_model.tar").is_file()
    assert not (out / ".spectrogen.lock").exists()


def test_train_output_dir_that_is_a_file_is_refused_and_kept(npy_data, tmp_path, capsys):
    existing = tmp_path / "existing.txt"
    existing.write_text("mine")
    for out in (existing, existing / "run"):
        code, _, err = run_cli(train_args(npy_data, out, steps=2), capsys)
        assert_refused(code, err, existing)
    assert existing.read_text() == "mine"


def test_a_second_training_process_is_refused_with_the_owners_pid(npy_data, finished_run, tmp_path, capsys):
    run, log, stalled = finished_run, tmp_path / "holder.log", tmp_path / "stalled"
    # the owner: a training process that holds the lock, stopped inside a checkpoint write
    holder = start_cli(["train", "--resume", run, "--epochs", "3", "--quiet"], log,
                       ("checkpoint_epoch_2.tar", "rename", stalled))
    try:
        wait_until(stalled.exists, holder, log, "the write of checkpoint_epoch_2.tar")
        before = tree_digest(run)
        for argv in (["train", "--resume", run, "--epochs", "2", "--quiet"],
                     train_args(npy_data, run, "--overwrite", steps=2)):
            code, _, err = run_cli(argv, capsys)
            assert_refused(code, err, run, f"pid {holder.pid}")
        assert tree_digest(run) == before
    finally:
        holder.kill()  # SIGKILL: the lock is left behind as a killed run leaves it
        holder.join()
    assert (run / ".spectrogen.lock").exists()
    code, _, err = run_cli(["train", "--resume", run, "--epochs", "2", "--quiet"], capsys)
    assert code == 0, err  # the dead owner's lock was taken over
    assert not (run / ".spectrogen.lock").exists()


# --- prepare -------------------------------------------------------------------------------------
@pytest.mark.parametrize("holds_data, in_place", [(False, False), (True, False), (True, True)],
                         ids=["users-folder", "data-set", "data-set-as-dot"])
def test_prepare_overwrite_replaces_only_the_data_sets_files(tmp_path, capsys, monkeypatch, holds_data, in_place):
    source = write_npy_sources(tmp_path / "src", count=12)
    out = prepare_quietly(write_npy_sources(tmp_path / "old"), tmp_path / "out") if holds_data else tmp_path / "out"
    write_files(out, {".ssh/id_ed25519": "secret", "thesis.tex": "mine", "listening/a.wav": "RIFF"})

    def users_entries() -> dict[str, str]:
        return {key: value for key, value in tree_digest(out).items()
                if key.split("/")[0] in (".ssh", "thesis.tex", "listening")}

    before = users_entries()
    if not holds_data:  # a folder that holds no data set is refused without --overwrite
        code, _, err = run_cli(["prepare", source, "--out", out, "--quiet"], capsys)
        assert_refused(code, err, out, "thesis.tex")
    if in_place:
        monkeypatch.chdir(out)
    run_cli(["prepare", "../src" if in_place else source, "--out", "." if in_place else out, "--quiet", "--overwrite"],
            capsys, ok=True)
    assert users_entries() == before
    assert (out / "dataset.json").is_file() and np.load(out / "features.npy").shape[0] == 12
    assert not [path for path in out.iterdir() if ".partial-" in path.name or ".replaced-" in path.name]
    assert sorted(path.name for path in tmp_path.iterdir()) == (["old", "out", "src"] if holds_data else ["out", "src"])


def test_prepare_into_a_folder_that_cannot_be_made_is_one_line(tmp_path, capsys):
    if not Path("/proc/self").is_dir():
        pytest.skip("needs Linux's /proc, where no one can make a folder")
    source = write_npy_sources(tmp_path / "src")
    code, _, err = run_cli(["prepare", source, "--out", "/proc/spectrogen-data", "--quiet"], capsys)
    assert_refused(code, err, "/proc")


# --- other commands' outputs -----------------------------------------------------------------------
def test_outputs_that_exist_as_files_are_refused_before_any_work(npy_data, finished_run, tmp_path, capsys,
                                                                record_property):
    existing = tmp_path / "existing.txt"
    existing.write_text("mine")
    samples = tmp_path / "s.npy"
    np.save(samples, np.random.default_rng(0).normal(size=(4, 1, 32, 32)).astype(np.float32))
    cases = [
        ["convert", samples, "--out", existing],
        ["evaluate", "--samples", samples, "--data", npy_data, "--out", existing,
         "--inception", feature_network(tmp_path / "net.pt")],
        ["evaluate", "--train-classifier", npy_data, "--out", tmp_path, "--overwrite", "--epochs", "1"],
        ["report", finished_run / "checkpoints" / "final_model.tar"],
    ]
    record_property("cases", len(cases))  # the battery counts each case
    for argv in cases:
        code, out, err = run_cli(argv, capsys)
        assert code == 2, (argv, err)
        assert "Traceback" not in err
        assert "wrote" not in out, argv  # refused before any work
    assert existing.read_text() == "mine"
    assert not list(tmp_path.glob("*.tmp"))


def test_a_full_disk_during_a_checkpoint_is_one_line_and_leaves_no_half_file(npy_data, tmp_path, capsys, monkeypatch):
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full, the device that answers every write with 'no space left'")
    real_open = open

    def full_disk(path, mode="r", *args, **kwargs):
        return real_open("/dev/full", mode, *args, **kwargs) if "w" in mode else real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(checkpoint_module, "open", full_disk, raising=False)
    run = tmp_path / "run"
    code, _, err = run_cli(train_args(npy_data, run, steps=2), capsys)
    assert_refused(code, err, "checkpoint_epoch_1.tar", "No space left", exit_code=1)
    assert not [path for path in run.rglob("*") if path.name.endswith(".tmp")]
    assert not (run / ".spectrogen.lock").exists()


def test_debug_shows_the_traceback(tmp_path, capsys):
    existing = tmp_path / "existing.txt"
    existing.write_text("mine")
    with pytest.raises(Exception):
        run_cli(["--debug", "prepare", tmp_path, "--out", existing / "x"], capsys)


def test_after_a_second_ctrl_c_final_model_is_not_behind_the_newest_checkpoint(finished_run, capsys):
    def second_ctrl_c(trainer, epoch):
        if epoch == 4:  # raised at once, as the second Ctrl-C's handler does: no checkpoint of its own
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(None, resume=finished_run, overrides=[("training.epochs", 6)], quiet=True, callbacks=[second_ctrl_c])
    final = load_checkpoint(finished_run / "checkpoints" / "final_model.tar")
    assert progress_of(final) == progress_of(load_checkpoint(finished_run / "checkpoints" / "checkpoint_epoch_3.tar"))
    assert progress_of(final)[0] == 3
    assert not (finished_run / ".spectrogen.lock").exists()


def test_library_warnings_are_hidden_and_the_programs_own_are_not():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_library_warnings()
        warnings.warn_explicit("TypedStorage is deprecated", UserWarning, "serialization.py", 1,
                               module="torch.serialization")
        warnings.warn_explicit("Mean of empty slice", RuntimeWarning, "fromnumeric.py", 1, module="numpy.core")
        warnings.warn_explicit("the data set is small", UserWarning, "generate.py", 1,
                               module="spectrogen.sampling.generate")
    assert [str(item.message) for item in caught] == ["the data set is small"]
