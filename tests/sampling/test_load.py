"""load_generator: a sampler rebuilt from the saved model section with the weights training sampled with; old
formats still load; foreign and newer files are refused with exit 2 (more: tests/reliability/)."""

import numpy as np
import pytest
import torch

from spectrogen.errors import CheckpointError
from spectrogen.sampling.load import load_generator
from spectrogen.training.checkpoint import load_checkpoint, save_checkpoint

from common import assert_refused, run_cli


def _same_samples(loaded, method, n: int = 3) -> None:
    expected = method.sample(n, generator=torch.Generator().manual_seed(3))
    got = loaded.method.sample(n, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("model, options", [("specgan", {"ema": True}), ("dcgan", {}), ("diffusion", {}),
                                            ("autoencoder", {})])
def test_the_sampler_holds_only_its_network_with_the_weights_training_sampled_with(gan_checkpoint, model, options):
    path, method = gan_checkpoint(model, **options)
    loaded = load_generator(path)
    assert set(loaded.method.networks) == set(loaded.method.sampling_networks) and len(loaded.method.networks) == 1
    assert not loaded.method.optimizers  # no critic, moving-average copy, optimizer or loss is built
    _same_samples(loaded, method)  # the moving average where training kept one (specgan, diffusion)


@pytest.mark.parametrize("older", [True, False])
def test_a_format_1_checkpoint_or_another_versions_training_setting_samples_as_trained(gan_checkpoint, older):
    path, method = gan_checkpoint("specgan", upsample="transposed")
    checkpoint = load_checkpoint(path)
    if older:  # format 1 did not say how a generator upsampled: with the transposed convolutions it trained with
        del checkpoint["config"]["model"]["upsample"]
        checkpoint["format_version"] = 1
    else:
        checkpoint["config"]["training"]["a_setting_of_another_version"] = 1
    _same_samples(load_generator(save_checkpoint(checkpoint, path.parent / "edited.tar")), method)


def test_foreign_noise_and_newer_or_older_files_exit_2_saying_what_is_wrong(gan_checkpoint, tmp_path, capsys):
    path, _ = gan_checkpoint("dcgan")
    files = {"notes.tar": "not a PyTorch checkpoint", "noise.tar": "", "newer.tar": "upgrade spectrogen",
             "version_0.tar": "reads (1 to"}
    (tmp_path / "notes.tar").write_text("this is not a checkpoint\n")
    (tmp_path / "noise.tar").write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    for name, version in (("newer.tar", 99), ("version_0.tar", 0)):
        save_checkpoint({**load_checkpoint(path), "format_version": version}, tmp_path / name)
    for name, message in files.items():
        code, _, err = run_cli(["sample", tmp_path / name, "--n", "2", "--out", tmp_path / "out"], capsys)
        assert_refused(code, err, name, message)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("edit, message", [({"features_g": 8}, "do not fit"), ({"no_such_key": 1}, "no_such_key")])
def test_a_model_section_that_does_not_describe_the_weights_is_refused(gan_checkpoint, tmp_path, edit, message):
    path, _ = gan_checkpoint("dcgan")  # its weights were made with features_g 4
    checkpoint = load_checkpoint(path)
    checkpoint["config"]["model"].update(edit)
    with pytest.raises(CheckpointError, match=message):
        load_generator(save_checkpoint(checkpoint, tmp_path / "edited.tar"))
