"""`spectrogen sample` refuses foreign, truncated, outdated and code-carrying files with exit 2, running nothing."""

import pickle

import numpy as np
import pytest
import torch

from spectrogen.cli.main import main
from spectrogen.errors import CheckpointError
from spectrogen.sampling.load import load_generator
from spectrogen.training.checkpoint import load_checkpoint, save_checkpoint


def _sample(path, out, capsys):
    """Returns (exit code, stderr) of `spectrogen sample path --n 2 --out out`."""
    code = main(["sample", str(path), "--n", "2", "--out", str(out)])
    return code, capsys.readouterr().err


class WritesAFile:
    """Unpickling this object opens (creates) a file: the shape of a malicious checkpoint."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_a_pickle_with_code_is_refused_and_never_executed(gan_checkpoint, tmp_path, capsys):
    path, _ = gan_checkpoint("dcgan")
    checkpoint = load_checkpoint(path)
    marker = tmp_path / "code_ran"
    save_checkpoint({**checkpoint, "trainer": {"epoch": 1, "hook": WritesAFile(marker)}}, tmp_path / "evil.tar")
    code, err = _sample(tmp_path / "evil.tar", tmp_path / "out", capsys)
    assert code == 2 and "code" in err and "evil.tar" in err and "Traceback" not in err
    assert not marker.exists()
    assert not (tmp_path / "out").exists()
    # control: an unsafe load of the same file really would have run it
    control = tmp_path / "control_ran"
    save_checkpoint({**checkpoint, "trainer": {"hook": WritesAFile(control)}}, tmp_path / "control.tar")
    torch.load(tmp_path / "control.tar", weights_only=False)
    assert control.exists()


def _foreign_files(tmp_path, valid_bytes):
    generator_only = tmp_path / "state_dict.pth"
    torch.save(torch.nn.Linear(2, 2).state_dict(), generator_only)
    text = tmp_path / "notes.tar"
    text.write_text("this is not a checkpoint\n")
    noise = tmp_path / "noise.tar"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(valid_bytes[: len(valid_bytes) // 2])
    pickled = tmp_path / "plain_pickle.tar"
    pickled.write_bytes(pickle.dumps({"format": "spectrogen-checkpoint"}))
    empty = tmp_path / "empty.tar"
    empty.write_bytes(b"")
    return [(generator_only, "not a spectrogen checkpoint"), (text, ""), (noise, ""), (truncated, ""),
            (pickled, ""), (empty, ""), (tmp_path / "missing.tar", "no such")]


def test_foreign_and_broken_files_exit_2_naming_the_file(gan_checkpoint, tmp_path, capsys):
    path, _ = gan_checkpoint("dcgan")
    for bad, message in _foreign_files(tmp_path, path.read_bytes()):
        code, err = _sample(bad, tmp_path / "out", capsys)
        assert code == 2, bad
        assert bad.name in err and message in err and "Traceback" not in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("version, message", [(0, "older"), (99, "newer")])
def test_other_format_versions_are_refused(gan_checkpoint, tmp_path, version, message):
    path, _ = gan_checkpoint("dcgan")
    save_checkpoint({**load_checkpoint(path), "format_version": version}, tmp_path / "other.tar")
    with pytest.raises(CheckpointError, match=message):
        load_generator(tmp_path / "other.tar")


def test_weights_that_do_not_fit_the_saved_configuration_are_refused(gan_checkpoint, tmp_path):
    path, _ = gan_checkpoint("dcgan")
    checkpoint = load_checkpoint(path)
    checkpoint["config"]["model"]["features_g"] = 8  # the stored weights were made with 4
    save_checkpoint(checkpoint, tmp_path / "mismatch.tar")
    with pytest.raises(CheckpointError, match="do not fit"):
        load_generator(tmp_path / "mismatch.tar")


def test_an_invalid_saved_configuration_is_refused(gan_checkpoint, tmp_path):
    path, _ = gan_checkpoint("dcgan")
    checkpoint = load_checkpoint(path)
    checkpoint["config"]["model"]["no_such_key"] = 1
    save_checkpoint(checkpoint, tmp_path / "config.tar")
    with pytest.raises(CheckpointError, match="no_such_key"):
        load_generator(tmp_path / "config.tar")
