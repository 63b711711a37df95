"""Two processes (DDP over gloo on the CPU, started as under torchrun) with batch B train exactly as one with batch 2B,
for every family; rank 1 writes nothing in the run directory; a checkpoint resumes under another process count."""

import math
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from spectrogen.config import build_config
from spectrogen.data.info import DataInfo
from spectrogen.models.registry import build_method
from spectrogen.training.checkpoint import load_checkpoint

from common import epoch_rows, iteration_rows, write_dataset
from training_helpers import tiny_config, tone_features
from processes import available, fix_draws, run_processes, start_server, train_job, train_with_fixed_draws

pytestmark = pytest.mark.skipif(not available(), reason="processes come from a fork server (POSIX only)")

# a tiny autoencoder without dropout: its step has no randomness at all
AUTOENCODER = {"model.autoencoder.hidden_channels": 8, "model.autoencoder.blocks": 1,
               "model.autoencoder.dropout": 0.0, "model.latent_dim": 4, "data.validation_fraction": 0.25}
# a tiny SpecGAN (no batch norm) with WGAN-GP, one critic update per generator update
SPECGAN = {"model.name": "specgan", "model.image_size": 32, "model.image_width": None, "model.features_g": 2,
           "model.features_d": 2, "model.latent_dim": 8, "training.loss": "wgan-gp", "training.critic_steps": 1,
           "training.learning_rate": 1e-3}
# a tiny class-conditional U-Net (group norm, attention, no dropout of any kind); its residual blocks end in
# zero-initialised convolutions, so the layers before them get no gradient in the first step: three steps at a
# high rate give every parameter one worth comparing
DIFFUSION = {"model.name": "diffusion", "model.diffusion.base_channels": 8,
             "model.diffusion.channel_multipliers": [1, 2], "model.diffusion.timesteps": 50,
             "model.diffusion.sampling_steps": 2, "model.diffusion.class_dropout": 0.0, "training.learning_rate": 1e-2}


def short_run(data: Path, out: Path, batch: int, settings: dict[str, Any]):
    """Returns a tiny run of `settings` with batch `batch`, three steps an epoch, each logged, two samples."""
    return tiny_config(data, out, {"training.batch_size": batch, "training.epochs": 1,
                                   "training.max_steps_per_epoch": 3, "output.log_every": 1, "output.num_samples": 2,
                                   **settings})


def trained_parameters(checkpoint_path: Path) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Returns {network.parameter: (weight, Adam's running mean of its gradient)} of a checkpoint."""
    checkpoint = load_checkpoint(checkpoint_path)
    for state in checkpoint["method"]["networks"].values():
        assert not any(key.startswith("module.") for key in state)  # plain networks, not DDP wrappers
    info = DataInfo(shape=tuple(checkpoint["data"]["shape"]), class_names=checkpoint["data"]["class_names"])
    method = build_method(build_config(checkpoint["config"]), info, torch.device("cpu"))
    method.load_state_dict(checkpoint["method"])
    return {f"{name}.{parameter_name}": (parameter.detach(), optimizer.state[parameter]["exp_avg"])
            for name, optimizer in method.optimizers.items()
            for parameter_name, parameter in method.networks[name].named_parameters()}


def assert_same_training(ours: Path, theirs: Path, keys: tuple[str, ...], epoch: int,
                         their_checkpoint: str = "final_model.tar") -> None:
    mine, reference = iteration_rows(ours, epoch), iteration_rows(theirs, epoch)
    assert mine and [row["iteration"] for row in mine] == [row["iteration"] for row in reference]
    for row, expected in zip(mine, reference):
        for key in keys:
            assert row[key] == pytest.approx(expected[key], rel=1e-4, abs=1e-6), (row["iteration"], key)
    parameters = trained_parameters(ours / "checkpoints" / "final_model.tar")
    expected_parameters = trained_parameters(theirs / "checkpoints" / their_checkpoint)
    assert parameters.keys() == expected_parameters.keys()
    for name, (expected_weight, expected_gradient) in expected_parameters.items():
        weight, gradient = parameters[name]
        scale = float(expected_gradient.abs().max())
        torch.testing.assert_close(gradient, expected_gradient, rtol=1e-4, atol=1e-4 * scale + 1e-8, msg=name)
        # a bias just before a normalisation has no gradient in exact arithmetic; Adam scales its
        # rounding noise up to whole steps, so only weights with a real gradient are compared
        if scale > 1e-6:
            torch.testing.assert_close(weight, expected_weight, rtol=1e-4, atol=1e-5, msg=name)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One process with batch 8 for two epochs, and two processes with batch 4 for the first epoch."""
    root = tmp_path_factory.mktemp("distributed")
    start_server()  # it imports torch and the package while this process trains the reference
    features, labels = tone_features(48)
    data = write_dataset(root / "data", features, labels, ["low", "mid", "high"])
    reference, two = root / "reference", root / "two"
    train_job(short_run(data, reference, 8, {**AUTOENCODER, "training.epochs": 2}))
    run_processes(2, root, train_job, short_run(data, two, 4, AUTOENCODER), watched=two)
    return SimpleNamespace(root=root, data=data, reference=reference, two=two)


def test_two_processes_with_batch_b_train_as_one_process_with_batch_2b(runs):
    assert_same_training(runs.two, runs.reference, keys=("loss", "mse", "l1", "grad_norm"), epoch=1,
                         their_checkpoint="checkpoint_epoch_1.tar")
    (row,), expected = epoch_rows(runs.two), epoch_rows(runs.reference)[0]
    # the validation split is shared out between the processes and their figures added up
    assert row["val_loss"] == pytest.approx(expected["val_loss"], rel=1e-5)
    assert row["samples_per_s"] * row["step_time_ms"] / 1000 == pytest.approx(8, rel=1e-6)  # the global batch


def test_gradient_penalty_gradients_are_averaged_over_processes(runs, monkeypatch):
    one, two = runs.root / "gan-one", runs.root / "gan-two"
    fix_draws("gan", monkeypatch.setattr)
    train_job(short_run(runs.data, one, 8, SPECGAN))
    run_processes(2, runs.root, train_with_fixed_draws, "gan", short_run(runs.data, two, 4, SPECGAN), watched=two)
    # gradient norms are measured after the backward: those of the averaged gradients
    assert_same_training(two, one, epoch=1,
                         keys=("loss_d", "loss_g", "gp", "d_real", "d_fake", "grad_norm_d", "grad_norm_g"))


def test_diffusion_in_two_processes_trains_as_one_process_with_the_double_batch(runs, monkeypatch):
    one, two = runs.root / "diffusion-one", runs.root / "diffusion-two"
    fix_draws("diffusion", monkeypatch.setattr)
    train_job(short_run(runs.data, one, 8, DIFFUSION))
    run_processes(2, runs.root, train_with_fixed_draws, "diffusion", short_run(runs.data, two, 4, DIFFUSION),
                  watched=two)
    rows = iteration_rows(two, 1)
    assert len(rows) == 3 and all(math.isfinite(row["loss"]) and math.isfinite(row["grad_norm"]) for row in rows)
    assert_same_training(two, one, keys=("loss", "grad_norm"), epoch=1)
    assert (two / "samples" / "epoch_001.npy").is_file()  # rank 0's outputs (rank 1 wrote nothing there)


def test_a_two_process_checkpoint_resumes_in_one_process(runs):
    out = runs.root / "two-then-one"
    shutil.copytree(runs.two, out)
    train_job(None, resume=out, overrides=[("training.epochs", 2), ("training.batch_size", 8)])
    assert [row["epoch"] for row in epoch_rows(out)] == [1, 2]
    assert_same_training(out, runs.reference, keys=("loss", "grad_norm"), epoch=2)


def test_a_one_process_checkpoint_resumes_in_two_processes(runs):
    out = runs.root / "one-then-two"
    shutil.copytree(runs.reference, out)
    run_processes(2, runs.root, train_job, None, out / "checkpoints" / "checkpoint_epoch_1.tar",
                  [("training.batch_size", 4)], watched=out)
    assert [row["epoch"] for row in epoch_rows(out)] == [1, 2]  # epoch 2's old rows were dropped, then written again
    assert_same_training(out, runs.reference, keys=("loss", "grad_norm"), epoch=2)
