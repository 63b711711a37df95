"""load_generator: a sampler rebuilt from the saved model section with the weights training sampled with; old
formats still load; foreign, broken, newer and code-carrying files are refused with exit 2, running nothing."""

import pickle

import numpy as np
import pytest
import torch

from spectrogen.cli.main import main
from spectrogen.errors import CheckpointError
from spectrogen.sampling.load import load_generator
from spectrogen.training.checkpoint import load_checkpoint, save_checkpoint

from conftest import tiny_method, write_checkpoint


def _sample(path, out, capsys):
    """Returns (exit code, stderr) of `spectrogen sample path --n 2 --out out`."""
    code = main(["sample", str(path), "--n", "2", "--out", str(out)])
    return code, capsys.readouterr().err


def _same_samples(loaded, method, n: int = 3) -> None:
    expected = method.sample(n, generator=torch.Generator().manual_seed(3))
    got = loaded.method.sample(n, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("model, options", [("specgan", {"ema": True}), ("dcgan", {}), ("diffusion", {}),
                                            ("autoencoder", {})])
def test_the_sampler_holds_only_its_network_with_the_weights_training_sampled_with(tmp_path, model, options):
    method = tiny_method(model, **options)
    loaded = load_generator(write_checkpoint(tmp_path / "model.tar", method))
    assert set(loaded.method.networks) == set(loaded.method.sampling_networks) and len(loaded.method.networks) == 1
    assert not loaded.method.optimizers  # no critic, moving-average copy, optimizer or loss is built
    _same_samples(loaded, method)  # the moving average where training kept one (specgan, diffusion)


def test_a_format_1_checkpoint_samples_with_the_transposed_convolutions_it_trained_with(tmp_path):
    method = tiny_method("specgan", upsample="transposed")
    checkpoint = load_checkpoint(write_checkpoint(tmp_path / "model.tar", method))
    del checkpoint["config"]["model"]["upsample"]  # format 1 did not say how a generator upsampled
    path = save_checkpoint({**checkpoint, "format_version": 1}, tmp_path / "format_1.tar")
    _same_samples(load_generator(path), method)


def test_a_training_section_this_version_does_not_read_does_not_stop_sampling(gan_checkpoint, tmp_path):
    path, method = gan_checkpoint("dcgan")
    checkpoint = load_checkpoint(path)
    checkpoint["config"]["training"]["a_setting_of_another_version"] = 1
    _same_samples(load_generator(save_checkpoint(checkpoint, tmp_path / "other_version.tar")), method)


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
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({**checkpoint, "hook": WritesAFile(marker)}))  # not torch's
    for name in ("evil.tar", "evil.pkl"):
        code, err = _sample(tmp_path / name, tmp_path / "out", capsys)
        assert code == 2 and name in err and "Traceback" not in err and ("not executed" in err or "Python" in err)
    assert not marker.exists()
    assert not (tmp_path / "out").exists()
    # control: an unsafe load of the same file really would have run it
    control = tmp_path / "control_ran"
    save_checkpoint({**checkpoint, "trainer": {"hook": WritesAFile(control)}}, tmp_path / "control.tar")
    torch.load(tmp_path / "control.tar", weights_only=False)
    assert control.exists()


def test_foreign_broken_and_newer_files_exit_2_saying_what_is_wrong(gan_checkpoint, tmp_path, capsys):
    path, _ = gan_checkpoint("dcgan")
    valid = path.read_bytes()
    files = {"state_dict.pth": "not a spectrogen checkpoint", "notes.tar": "not a PyTorch checkpoint",
             "noise.tar": "", "truncated.tar": "truncated", "plain_pickle.tar": "", "empty.tar": "truncated",
             "missing.tar": "no such", "newer.tar": "upgrade spectrogen", "version_0.tar": "reads (1 to"}
    torch.save(torch.nn.Linear(2, 2).state_dict(), tmp_path / "state_dict.pth")
    (tmp_path / "notes.tar").write_text("this is not a checkpoint\n")
    (tmp_path / "noise.tar").write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    (tmp_path / "truncated.tar").write_bytes(valid[: len(valid) // 2])
    (tmp_path / "plain_pickle.tar").write_bytes(pickle.dumps({"format": "spectrogen-checkpoint"}))
    (tmp_path / "empty.tar").write_bytes(b"")
    for name, version in (("newer.tar", 99), ("version_0.tar", 0)):
        save_checkpoint({**load_checkpoint(path), "format_version": version}, tmp_path / name)
    for name, message in files.items():
        code, err = _sample(tmp_path / name, tmp_path / "out", capsys)
        assert code == 2 and name in err and message in err and "Traceback" not in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("edit, message", [({"features_g": 8}, "do not fit"), ({"no_such_key": 1}, "no_such_key")])
def test_a_model_section_that_does_not_describe_the_weights_is_refused(gan_checkpoint, tmp_path, edit, message):
    path, _ = gan_checkpoint("dcgan")  # its weights were made with features_g 4
    checkpoint = load_checkpoint(path)
    checkpoint["config"]["model"].update(edit)
    with pytest.raises(CheckpointError, match=message):
        load_generator(save_checkpoint(checkpoint, tmp_path / "edited.tar"))
