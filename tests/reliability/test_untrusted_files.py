"""Files from others cannot make spectrogen run code (a control shows that an unsafe load would; configuration text
is never evaluated) or read outside what the user pointed it at (metadata paths and links are not followed)."""

import json
import os
import pickle
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch

from spectrogen.data.dataset import SpectrogramDataset
from spectrogen.errors import InputError
from spectrogen.training.checkpoint import load_checkpoint, save_checkpoint

from common import RunsCode, assert_refused, run_cli, tree_digest
from reliability_helpers import assert_each_refused, feature_network, new_folder, train_args

pytestmark = pytest.mark.bad_input

# --- the audit hook: which files does the process open? -----------------------------------------------
_opened: list[list[str]] = []


def _audit(event, arguments):
    if event == "open" and _opened and isinstance(arguments[0], (str, bytes, os.PathLike)):
        _opened[-1].append(os.fsdecode(arguments[0]))


sys.addaudithook(_audit)  # hooks cannot be removed; this one only records while `files_opened` runs


@contextmanager
def files_opened():
    """Yields the list of the paths that the process opens inside the block (resolved when they exist)."""
    record: list[str] = []
    _opened.append(record)
    try:
        yield record
    finally:
        _opened.pop()


# --- files that carry code -----------------------------------------------------------------------------
def test_checkpoints_classifiers_and_arrays_that_carry_code_are_refused_and_never_run(npy_data, finished_run, tmp_path,
                                                                                     capsys, record_property):
    data, run = npy_data, finished_run
    marker = tmp_path / "code_ran"
    good = load_checkpoint(run / "checkpoints" / "final_model.tar")
    evil = tmp_path / "evil.tar"
    save_checkpoint({**good, "config": {**good["config"], "name": [RunsCode(marker)]}}, evil)
    legacy = tmp_path / "legacy_pickle.tar"
    legacy.write_bytes(pickle.dumps({"format": "spectrogen-checkpoint", "payload": RunsCode(marker)}))
    classifier = tmp_path / "evil_classifier.pt"
    torch.save({"format": "spectrogen-classifier", "format_version": 1, "state_dict": RunsCode(marker)}, classifier)

    # a run directory whose newest checkpoint was replaced, and whose metrics classifier carries code
    hostile_run = tmp_path / "hostile_run"
    (hostile_run / "checkpoints").mkdir(parents=True)
    (hostile_run / "epochs_statistics").mkdir()
    save_checkpoint({**good, "trainer": {**good["trainer"], "epoch": 0}}, hostile_run / "checkpoints" / "best_model.tar")
    (hostile_run / "checkpoints" / "checkpoint_epoch_1.tar").write_bytes(evil.read_bytes())
    (hostile_run / "epochs_statistics" / "metrics_classifier.pt").write_bytes(classifier.read_bytes())
    samples = new_folder(tmp_path / "samples")
    np.save(samples / "samples.npy", np.zeros((4, 1, 32, 32), dtype=np.float32))
    (samples / "sampling.json").write_text(json.dumps({"checkpoint": str(evil)}))
    np.save(tmp_path / "evil.npy", np.array([RunsCode(marker), 1], dtype=object), allow_pickle=True)

    cases = [
        (["sample", evil, "--out", tmp_path / "out"], ["evil.tar", "carries Python code", "not executed"]),
        (["sample", legacy, "--out", tmp_path / "out"], ["legacy_pickle.tar", "Python objects"]),
        (["train", "--resume", evil], ["evil.tar", "carries Python code"]),
        (["train", "--resume", hostile_run], ["checkpoint_epoch_1.tar", "carries Python code"]),
        (["evaluate", evil, "--data", data, "--out", tmp_path / "e1"], ["evil.tar", "carries Python code"]),
        (["evaluate", run, "--data", data, "--classifier", classifier, "--out", tmp_path / "e2"],
         ["evil_classifier.pt", "carries Python code", "not executed"]),
        (["evaluate", hostile_run / "checkpoints" / "best_model.tar", "--data", data, "--n", "4",
          "--out", tmp_path / "e3"], ["metrics_classifier.pt", "carries Python code"]),
        (["evaluate", "--samples", samples / "samples.npy", "--data", data, "--out", tmp_path / "e4"],
         ["evil.tar", "carries Python code"]),
        (["convert", tmp_path / "evil.npy", "--out", tmp_path / "images"], ["evil.npy", "Python objects"]),
    ]
    assert_each_refused(cases, capsys, record_property)
    assert not marker.exists()
    with pytest.raises(InputError, match="carries Python code"):
        load_checkpoint(evil)

    # control: the same bytes loaded the unsafe way do run the code
    torch.load(evil, weights_only=False)
    assert marker.exists()
    marker.unlink()
    np.load(tmp_path / "evil.npy", allow_pickle=True)
    assert marker.exists()


# --- configuration is never evaluated ------------------------------------------------------------------
def test_configuration_text_is_never_evaluated(npy_data, tmp_path, capsys):
    data = npy_data
    marker = tmp_path / "command_ran"
    command = f"__import__('os').system('touch {marker}')"
    _, printed, _ = run_cli(["train", "--config", "test", "--set", f"name={command}", "--print-config"], capsys,
                            ok=True)
    assert json.loads(printed)["name"] == command  # a string where a string belongs, kept as written
    for key in ("training.epochs", "training.learning_rate", "model.name", "training.device"):
        code, _, err = run_cli(["train", "--config", "test", "--data", data, "--set", f"{key}={command}"], capsys)
        assert_refused(code, err, key)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"name": command, "training": {"epochs": command},
                                  "model": {"features_g": {"__class__": "os.system", "args": [command]}}}))
    code, _, err = run_cli(["train", "--config", config, "--data", data], capsys)
    assert_refused(code, err, "training.epochs", "model.features_g")
    # a data set description is data too
    copy = shutil.copytree(data, tmp_path / "data_copy")
    metadata = json.loads((copy / "dataset.json").read_text())
    metadata["representation"]["log"] = command
    (copy / "dataset.json").write_text(json.dumps(metadata))
    code, _, err = run_cli(["train", "--config", "test", "--data", copy, "--output-dir", tmp_path / "r"], capsys)
    assert_refused(code, err, "dataset.json")
    assert not marker.exists()


# --- metadata cannot lead outside the data set -----------------------------------------------------------
def outside_files(tmp_path):
    """Returns a secret file and a valid-looking data set's files, all outside the data set folder."""
    secret = tmp_path / "secret.txt"
    secret.write_text("not for spectrogen\n")
    elsewhere = new_folder(tmp_path / "elsewhere")
    np.save(elsewhere / "features.npy", np.zeros((24, 32, 32), dtype=np.float32))
    np.save(elsewhere / "labels.npy", np.zeros(24, dtype=np.int64))
    return secret, elsewhere


def test_paths_written_into_the_metadata_are_never_followed(npy_data, finished_run, tmp_path, capsys):
    data, run = npy_data, finished_run
    secret, elsewhere = outside_files(tmp_path)
    metadata = json.loads((data / "dataset.json").read_text())
    metadata.update({"features": str(elsewhere / "features.npy"), "labels": "../elsewhere/labels.npy",
                     "index": str(secret), "path": "../../secret.txt"})
    metadata["source"]["location"] = str(secret)
    (data / "dataset.json").write_text(json.dumps(metadata))
    index = (data / "index.csv").read_text().splitlines()
    index[1] = "../../secret.txt,0.0000,0,0,"
    index[2] = f"{secret},0.0000,0,0,"
    (data / "index.csv").write_text("\n".join(index) + "\n")
    real = np.load(data / "features.npy")

    with files_opened() as opened:
        dataset = SpectrogramDataset.open(data)
        assert np.array_equal(np.asarray(dataset.features), real)  # its own features, not the ones named
        run_cli(train_args(data, tmp_path / "new_run", steps=2), capsys, ok=True)
        run_cli(["evaluate", run, "--data", data, "--n", "8", "--metrics", "fid", "--inception",
                 feature_network(tmp_path / "net.pt"), "--out", tmp_path / "evaluation"], capsys, ok=True)
    touched = {Path(path).resolve() for path in opened}
    assert (data / "features.npy").resolve() in touched  # the hook does see the reads
    forbidden = {secret.resolve(), (elsewhere / "features.npy").resolve(), (elsewhere / "labels.npy").resolve()}
    assert not touched & forbidden


def test_files_that_are_links_leading_outside_the_data_set_are_refused(npy_data, tmp_path, capsys):
    data = npy_data
    _, elsewhere = outside_files(tmp_path)
    for name, target in (("features.npy", elsewhere / "features.npy"), ("labels.npy", elsewhere / "labels.npy"),
                         ("dataset.json", data / "dataset.json")):
        copy = shutil.copytree(data, tmp_path / f"linked_{name.split('.')[0]}")
        (copy / name).unlink()
        os.symlink(target, copy / name)  # a same-looking file in another folder
        before = tree_digest(elsewhere)
        with files_opened() as opened:
            with pytest.raises(InputError, match="points outside the data set folder"):
                SpectrogramDataset.open(copy)
            code, _, err = run_cli(["train", "--config", "test", "--data", copy, "--output-dir",
                                    tmp_path / "r"], capsys)
        assert_refused(code, err, name, "outside the data set folder")
        assert Path(target).resolve() not in {Path(path).resolve() for path in opened}
        assert tree_digest(elsewhere) == before
    # the data set folder itself may be a link: the user chose to point there
    link = tmp_path / "data_link"
    os.symlink(data, link)
    assert len(SpectrogramDataset.open(link)) == 24
