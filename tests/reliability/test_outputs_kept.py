"""No command replaces what it did not write; a run has a lock; OS errors on outputs end in one line.

With --overwrite `train`, `prepare` and `demo` replace only their own outputs, and never a user's file
that has one of their names. A second `train` into a run being trained is refused; a killed one's
lock is taken over. Outputs that are files, folders that cannot be made and a full disk end in one line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import spectrogen.training.checkpoint as checkpoint_module

from common import assert_refused, run_cli, tree_digest
from reliability_helpers import SRC_ROOT, feature_network, prepare_quietly, train_args, write_npy_sources

pytestmark = pytest.mark.data_loss

QUICK = ["--set", "training.max_steps_per_epoch=2"]


def user_folder(root: Path) -> Path:
    """Returns a folder of a user's files whose names a run writes (report.html, plots/) and one it does not."""
    root.mkdir(parents=True)
    (root / "report.html").write_text("MINE")
    (root / "plots").mkdir()
    (root / "plots" / "gradient_norms.png").write_bytes(b"x")
    (root / "notes.txt").write_text("keep")
    return root


# --- train ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("overwrite", [False, True])
def test_train_never_replaces_a_users_files_with_a_runs_names(npy_data, tmp_path, capsys, overwrite):
    out = user_folder(tmp_path / "d")
    before = tree_digest(out)
    code, _, err = run_cli(train_args(npy_data, out, epochs=1, extra=QUICK + (["--overwrite"] if overwrite else [])),
                           capsys)
    assert_refused(code, err, out, "report.html", "plots")
    assert tree_digest(out) == before


def test_a_folder_with_a_checkpoints_subfolder_is_not_taken_for_a_run(npy_data, tmp_path, capsys):
    out = tmp_path / "d"
    (out / "checkpoints").mkdir(parents=True)
    (out / "checkpoints" / "mine.txt").write_text("mine")
    code, _, err = run_cli(train_args(npy_data, out, epochs=1, extra=QUICK), capsys)
    assert_refused(code, err, "checkpoints")
    assert "already holds a training run" not in err
    assert (out / "checkpoints" / "mine.txt").read_text() == "mine"


def test_train_overwrite_writes_beside_other_files_and_keeps_them(npy_data, tmp_path, capsys):
    out = tmp_path / "d"
    out.mkdir()
    (out / "notes.txt").write_text("keep")
    code, _, err = run_cli(train_args(npy_data, out, epochs=1, extra=QUICK), capsys)
    assert_refused(code, err, "notes.txt", "--overwrite")
    run_cli(train_args(npy_data, out, epochs=1, extra=[*QUICK, "--overwrite"]), capsys, ok=True)
    assert (out / "notes.txt").read_text() == "keep"
    assert (out / "checkpoints" / "final_model.tar").is_file()
    assert not (out / ".spectrogen.lock").exists()


def test_train_output_dir_that_is_a_file_is_refused_and_kept(npy_data, tmp_path, capsys):
    existing = tmp_path / "existing.txt"
    existing.write_text("mine")
    for out in (existing, existing / "run"):
        code, _, err = run_cli(train_args(npy_data, out, epochs=1, extra=QUICK), capsys)
        assert_refused(code, err, existing)
    assert existing.read_text() == "mine"


# --- the lock of a run ---------------------------------------------------------------------------
def test_a_second_training_process_is_refused_with_the_owners_pid(npy_data, tmp_path, capsys):
    run = tmp_path / "run"
    run_cli(train_args(npy_data, run, epochs=1, extra=QUICK), capsys, ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from spectrogen.training.run_lock import RunLock; "
         "lock = RunLock(sys.argv[1]).acquire(); print('locked', flush=True); time.sleep(120)", str(run)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(SRC_ROOT)})
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = tree_digest(run)
        for argv in (["train", "--resume", run, "--epochs", "2", "--quiet"],
                     train_args(npy_data, run, epochs=1, extra=[*QUICK, "--overwrite"])):
            code, _, err = run_cli(argv, capsys)
            assert_refused(code, err, run, f"pid {holder.pid}")
        assert tree_digest(run) == before
    finally:
        holder.kill()  # SIGKILL: the lock is left behind as a killed run leaves it
        holder.wait()
    assert (run / ".spectrogen.lock").exists()
    code, _, err = run_cli(["train", "--resume", run, "--epochs", "2", "--quiet"], capsys)
    assert code == 0, err  # the dead owner's lock was taken over
    assert not (run / ".spectrogen.lock").exists()


# --- prepare -------------------------------------------------------------------------------------
def test_prepare_overwrite_refuses_a_folder_that_holds_no_data_set(tmp_path, capsys):
    source = write_npy_sources(tmp_path / "src")
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("secret")
    (home / "thesis.tex").write_text("mine")
    before = tree_digest(home)
    for extra in ([], ["--overwrite"]):
        code, _, err = run_cli(["prepare", source, "--out", home, "--quiet", *extra], capsys)
        if extra:  # beside the user's files, which are kept
            assert code == 0, err
        else:
            assert_refused(code, err, home, "thesis.tex")
    after = tree_digest(home)
    assert {key: after[key] for key in before} == before
    assert (home / "dataset.json").is_file()


def test_prepare_overwrite_replaces_only_the_data_sets_files(tmp_path, capsys):
    source = write_npy_sources(tmp_path / "src")
    data = prepare_quietly(source, tmp_path / "data")
    (data / "notes.txt").write_text("keep")
    (data / "listening").mkdir()
    (data / "listening" / "a.wav").write_bytes(b"RIFF")
    run_cli(["prepare", write_npy_sources(tmp_path / "src2", count=12), "--out", data, "--quiet", "--overwrite"],
            capsys, ok=True)
    assert (data / "notes.txt").read_text() == "keep"
    assert (data / "listening" / "a.wav").read_bytes() == b"RIFF"
    assert np.load(data / "features.npy").shape[0] == 12
    assert not [path for path in data.iterdir() if ".partial-" in path.name or ".replaced-" in path.name]


def test_prepare_out_dot_with_overwrite_works_in_place(tmp_path, capsys, monkeypatch):
    source = write_npy_sources(tmp_path / "src")
    data = prepare_quietly(source, tmp_path / "data")
    (data / "notes.txt").write_text("keep")
    monkeypatch.chdir(data)
    run_cli(["prepare", "../src", "--out", ".", "--quiet", "--overwrite"], capsys, ok=True)
    assert (data / "notes.txt").read_text() == "keep"
    assert (data / "dataset.json").is_file()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data", "src"]


def test_prepare_into_a_folder_that_cannot_be_made_is_one_line(tmp_path, capsys):
    if not Path("/proc/self").is_dir():
        pytest.skip("needs Linux's /proc, where no one can make a folder")
    source = write_npy_sources(tmp_path / "src")
    code, _, err = run_cli(["prepare", source, "--out", "/proc/spectrogen-data", "--quiet"], capsys)
    assert_refused(code, err, "/proc")


def test_demo_overwrite_keeps_a_users_folder_with_a_demos_names(tmp_path, capsys):
    out = tmp_path / "project"
    (out / "data").mkdir(parents=True)
    (out / "data" / "recordings.wav").write_bytes(b"RIFF")
    code, _, err = run_cli(["demo", "--out", out, "--overwrite", "--quiet"], capsys)
    assert_refused(code, err, out, "data")
    assert (out / "data" / "recordings.wav").read_bytes() == b"RIFF"


# --- other commands' outputs -----------------------------------------------------------------------
@pytest.fixture
def finished_run(npy_data, tmp_path, capsys) -> Path:
    run = tmp_path / "run"
    run_cli(train_args(npy_data, run, epochs=1, extra=QUICK), capsys, ok=True)
    return run


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
    code, _, err = run_cli(train_args(npy_data, run, epochs=1, extra=QUICK), capsys)
    assert_refused(code, err, "checkpoint_epoch_1.tar", "No space left", exit_code=1)
    assert not [path for path in run.rglob("*") if path.name.endswith(".tmp")]
    assert not (run / ".spectrogen.lock").exists()


def test_debug_shows_the_traceback(tmp_path, capsys):
    existing = tmp_path / "existing.txt"
    existing.write_text("mine")
    with pytest.raises(Exception):
        run_cli(["--debug", "prepare", tmp_path, "--out", existing / "x"], capsys)


def test_after_a_second_ctrl_c_final_model_is_not_behind_the_newest_checkpoint(finished_run, capsys):
    from spectrogen.api import train
    from spectrogen.training.checkpoint import load_checkpoint, progress_of

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
    import warnings

    from spectrogen.cli.failures import quiet_library_warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_library_warnings()
        warnings.warn_explicit("TypedStorage is deprecated", UserWarning, "serialization.py", 1,
                               module="torch.serialization")
        warnings.warn_explicit("Mean of empty slice", RuntimeWarning, "fromnumeric.py", 1, module="numpy.core")
        warnings.warn_explicit("the data set is small", UserWarning, "generate.py", 1,
                               module="spectrogen.sampling.generate")
    assert [str(item.message) for item in caught] == ["the data set is small"]
