"""Training in two processes (DDP over gloo on the CPU), as `torchrun --nproc-per-node 2` would start them.

Each process is forked from the test with the RANK / WORLD_SIZE / LOCAL_RANK / MASTER_* variables
torchrun sets, and calls the same `train()` the CLI does. The properties: two processes with batch B
train exactly as one process with batch 2B (losses, gradient norms, weights), rank 1 writes nothing
in the run directory, and a checkpoint resumes under another number of processes.
"""

from __future__ import annotations

import builtins
import io
import multiprocessing
import os
import shutil
import socket
import traceback
from pathlib import Path

import pytest
import torch

from spectrogen.config import build_config
from spectrogen.models import gan_method
from spectrogen.models.registry import build_method
from spectrogen.training.api import train
from spectrogen.training.checkpoint import load_checkpoint
from spectrogen.training.csv_log import CsvLog
from spectrogen.training.method import DataInfo

from conftest import tiny_config, tone_features, write_dataset

pytestmark = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                                reason="the processes are forked from the test (POSIX only)")

TIMEOUT_S = 40


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _record_writes_under(root: Path, violations: list[str]) -> None:
    """Makes every file-system change under `root` (and every open for writing there) append to `violations`."""
    root = str(root.resolve())

    def inside(path) -> bool:
        try:
            return os.path.abspath(os.fspath(path)).startswith(root)
        except TypeError:  # a file descriptor
            return False

    def watch(module, name, is_write=lambda *args, **kwargs: True):
        original = getattr(module, name)

        def watched(*args, **kwargs):
            if args and inside(args[0]) and is_write(*args, **kwargs):
                violations.append(f"{name}({args[0]})")
            return original(*args, **kwargs)

        setattr(module, name, watched)

    def write_mode(path, mode="r", *args, **kwargs):
        return any(flag in mode for flag in "wax+")

    def write_flags(path, flags, *args, **kwargs):
        return bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))

    watch(builtins, "open", write_mode)
    io.open = builtins.open  # pathlib opens through io.open
    watch(os, "open", write_flags)
    for name in ("replace", "rename", "mkdir", "makedirs", "unlink", "remove", "link", "rmdir"):
        watch(os, name)
    watch(shutil, "rmtree")


def _process(rank: int, world: int, port: int, errors: Path, watched: Path | None, job, args) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    import faulthandler, sys; faulthandler.dump_traceback_later(30, file=open(f"/tmp/fh_rank{rank}.txt","w"))
    code = 0
    try:
        violations: list[str] = []
        if rank > 0 and watched is not None:
            _record_writes_under(watched, violations)
        job(*args)
        if violations:
            raise AssertionError(f"rank {rank} wrote in the run directory: {violations[:5]}")
    except BaseException:  # noqa: BLE001 - reported to the test, which fails with it
        (errors / f"rank{rank}.txt").write_text(traceback.format_exc())
        code = 1
    os._exit(code)  # leave without the forked test runner's exit handlers


def run_processes(world: int, tmp_path: Path, job, *args, watched: Path | None = None) -> None:
    """Runs `job(*args)` in `world` forked processes joined as torchrun would; fails with a rank's traceback."""
    errors = tmp_path / f"errors-{os.urandom(4).hex()}"
    errors.mkdir()
    context = multiprocessing.get_context("fork")
    port = _free_port()
    processes = [context.Process(target=_process, args=(rank, world, port, errors, watched, job, args))
                 for rank in range(world)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(TIMEOUT_S)
    for process in processes:
        if process.is_alive():
            process.kill()
    reports = sorted(errors.glob("*.txt"))
    assert not reports, "\n".join(report.read_text() for report in reports)
    assert all(process.exitcode == 0 for process in processes), [process.exitcode for process in processes]


# --- configurations --------------------------------------------------------------------------------
def autoencoder_config(data: Path, out: Path, batch: int, epochs: int = 1):
    """Returns a tiny autoencoder run without dropout: its step has no randomness at all."""
    return tiny_config(data, out, {
        "model.autoencoder.hidden_channels": 8, "model.autoencoder.blocks": 1, "model.autoencoder.dropout": 0.0,
        "model.latent_dim": 4, "training.batch_size": batch, "training.epochs": epochs,
        "training.max_steps_per_epoch": 3, "data.validation_fraction": 0.25, "output.log_every": 1,
        "output.num_samples": 2})


def specgan_config(data: Path, out: Path, batch: int):
    """Returns a tiny SpecGAN (no batch norm) with WGAN-GP, one critic update per generator update."""
    return tiny_config(data, out, {
        "model.name": "specgan", "model.image_size": 32, "model.image_width": None, "model.features_g": 2,
        "model.features_d": 2, "model.latent_dim": 8, "training.loss": "wgan-gp", "training.critic_steps": 1,
        "training.learning_rate": 1e-3, "training.batch_size": batch, "training.epochs": 1,
        "training.max_steps_per_epoch": 3, "output.log_every": 1, "output.num_samples": 2})


def iterations(out: Path, epoch: int = 1) -> list[dict]:
    return CsvLog(out / "single_epochs_statistics" / f"epoch_{epoch}" / f"epoch_{epoch}_iterations.csv").rows()


def trained_parameters(out: Path) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Returns {network.parameter: (weight, Adam's running mean of its gradient)} of the final checkpoint."""
    checkpoint = load_checkpoint(out / "checkpoints" / "final_model.tar")
    for state in checkpoint["method"]["networks"].values():
        assert not any(key.startswith("module.") for key in state)  # plain networks, not DDP wrappers
    info = DataInfo(shape=tuple(checkpoint["data"]["shape"]), class_names=checkpoint["data"]["class_names"])
    method = build_method(build_config(checkpoint["config"]), info, torch.device("cpu"))
    method.load_state_dict(checkpoint["method"])
    return {f"{name}.{parameter_name}": (parameter.detach(), optimizer.state[parameter]["exp_avg"])
            for name, optimizer in method.optimizers.items()
            for parameter_name, parameter in method.networks[name].named_parameters()}


def assert_same_training(ours: Path, theirs: Path, keys: tuple[str, ...], epoch: int = 1) -> None:
    mine, reference = iterations(ours, epoch), iterations(theirs, epoch)
    assert [row["iteration"] for row in mine] == [row["iteration"] for row in reference]
    for row, expected in zip(mine, reference):
        for key in keys:
            assert row[key] == pytest.approx(expected[key], rel=1e-4, abs=1e-6), (row["iteration"], key)
    parameters, expected_parameters = trained_parameters(ours), trained_parameters(theirs)
    assert parameters.keys() == expected_parameters.keys()
    for name, (expected_weight, expected_gradient) in expected_parameters.items():
        weight, gradient = parameters[name]
        scale = float(expected_gradient.abs().max())
        torch.testing.assert_close(gradient, expected_gradient, rtol=1e-4, atol=1e-4 * scale + 1e-8, msg=name)
        # a bias just before a normalisation has no gradient in exact arithmetic; Adam scales its
        # rounding noise up to whole steps, so only parameters with a real gradient are compared
        if scale > 1e-6:
            torch.testing.assert_close(weight, expected_weight, rtol=1e-4, atol=1e-5, msg=name)


@pytest.fixture
def data(tmp_path, quick_plots) -> Path:
    features, labels = tone_features(48)
    return write_dataset(tmp_path / "data", features, labels, ["low", "mid", "high"])


def _train(config, *, resume=None, overrides=()) -> None:
    train(config, resume=resume, overrides=list(overrides), quiet=True)


# --- tests -----------------------------------------------------------------------------------------
def test_two_processes_with_batch_b_train_as_one_process_with_batch_2b(data, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    _train(autoencoder_config(data, one, batch=8))
    run_processes(2, tmp_path, _train, autoencoder_config(data, two, batch=4), watched=two)
    assert_same_training(two, one, keys=("loss", "mse", "l1", "grad_norm"))
    # the validation split is shared out between the processes and the figures added up
    (row,), (expected,) = CsvLog(two / "epochs_statistics" / "epoch_statistics.csv").rows(), \
        CsvLog(one / "epochs_statistics" / "epoch_statistics.csv").rows()
    assert row["val_loss"] == pytest.approx(expected["val_loss"], rel=1e-5)
    assert row["samples_per_s"] * row["step_time_ms"] / 1000 == pytest.approx(8, rel=1e-6)  # the global batch


def test_gradient_penalty_gradients_are_averaged_over_processes(data, tmp_path, monkeypatch):
    # the step's randomness made a function of the example's global position, so that both ways
    # draw the same latent vectors and penalty points
    table = torch.rand(64, 8, generator=torch.Generator().manual_seed(3)) * 2 - 1
    original_latent, original_penalty = gan_method.sample_latent, gan_method.gradient_penalty

    def offset(n: int) -> int:
        return int(os.environ.get("RANK", "0")) * n

    def latent(n, latent_dim, distribution, *, generator=None, device=None):
        if generator is not None:  # the trainer's fixed samples: leave them alone
            return original_latent(n, latent_dim, distribution, generator=generator, device=device)
        return table[offset(n):offset(n) + n, :latent_dim].to(device)

    def penalty(critic, real, fake):
        alpha = torch.linspace(0.05, 0.95, 64)[offset(len(real)):offset(len(real)) + len(real)]
        return original_penalty(critic, real, fake, alpha=alpha.to(real.device))

    monkeypatch.setattr(gan_method, "sample_latent", latent)
    monkeypatch.setattr(gan_method, "gradient_penalty", penalty)
    one, two = tmp_path / "one", tmp_path / "two"
    _train(specgan_config(data, one, batch=8))
    run_processes(2, tmp_path, _train, specgan_config(data, two, batch=4))
    # a gradient norm measured after the backward is that of the averaged gradient
    assert_same_training(two, one, keys=("loss_d", "loss_g", "gp", "d_real", "d_fake", "grad_norm_d", "grad_norm_g"))


@pytest.mark.parametrize("first, then", [(2, 1), (1, 2)])
def test_a_checkpoint_resumes_under_another_number_of_processes(data, tmp_path, first, then):
    reference = tmp_path / "reference"
    _train(autoencoder_config(data, reference, batch=8, epochs=2))
    out = tmp_path / f"{first}-then-{then}"

    def run(world: int, job, *args) -> None:
        if world == 1:
            job(*args)
        else:
            run_processes(world, tmp_path, job, *args, watched=out)

    # the same global batch of 8 either way: 2 processes x 4 or 1 x 8
    run(first, _train, autoencoder_config(data, out, batch=8 // first, epochs=1))
    run(then, lambda: _train(None, resume=out, overrides=[("training.epochs", 2),
                                                          ("training.batch_size", 8 // then)]))
    assert [row["epoch"] for row in CsvLog(out / "epochs_statistics" / "epoch_statistics.csv").rows()] == [1, 2]
    assert_same_training(out, reference, keys=("loss", "grad_norm"), epoch=2)
