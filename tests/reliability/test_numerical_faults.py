"""NaN and infinity in data, batches and losses are caught and handled as `monitor.nan_policy` says.

The real DCGAN trains through `spectrogen train` in this process; the faults come from where they do in
practice: a prepared features.npy, the batch on the device, a loss. Each event is recorded in the
`nan_events` column, in the iteration CSV of its logging interval and in the checkpoint's monitor.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from spectrogen.models import gan_method
from spectrogen.models.gan_method import GANMethod
from spectrogen.training.checkpoint import load_checkpoint

from common import epoch_rows, iteration_rows, run_cli
from reliability_helpers import train_args

pytestmark = pytest.mark.bad_input

LR = 2e-4  # the DCGAN default
STEPS = 3  # per epoch


def train_tiny(data, out, capsys, policy, *extra):
    """Returns (exit code, stdout, stderr) of two epochs of three steps, logging every step."""
    arguments = train_args(data, out, epochs=2, extra=[
        "--set", f"training.max_steps_per_epoch={STEPS}", "--set", "output.log_every=1",
        "--set", f"monitor.nan_policy={policy}", *extra])
    return run_cli(arguments, capsys)


def final_state(out):
    checkpoint = load_checkpoint(out / "checkpoints" / "final_model.tar")
    weights = [t for network in checkpoint["method"]["networks"].values() for t in network.values()
               if t.is_floating_point()]
    return checkpoint["trainer"], all(bool(torch.isfinite(t).all()) for t in weights)


@pytest.fixture
def inject(monkeypatch):
    """Returns a function that makes the given train_step calls (counted from 1 in this process) meet `value`
    in the first pixel of their batch, already on the training device."""

    def arm(calls, value=math.nan):
        original = GANMethod.train_step
        seen = {"calls": 0}

        def train_step(self, batch):
            seen["calls"] += 1
            if seen["calls"] in calls:
                x = batch.x.clone()  # (B, 1, H, W) on the device
                x[0, 0, 0, 0] = value
                batch.x = x
            return original(self, batch)

        monkeypatch.setattr(GANMethod, "train_step", train_step)
        return seen

    return arm


# --- data ---------------------------------------------------------------------------------------------
def poison(data, index=5):
    """Writes a NaN into example `index` of a prepared features.npy (the moments stay those of clean data)."""
    features = np.load(data / "features.npy", mmap_mode="r+")
    features[index, 3, 3] = np.nan
    features.flush()
    del features


def test_a_nan_example_held_on_the_device_is_refused_before_training(npy_data, tmp_path, capsys):
    poison(npy_data)
    code, _, err = train_tiny(npy_data, tmp_path / "run", capsys, "restore", "--set", "data.on_device=always")
    assert code == 2 and "Traceback" not in err
    assert "features.npy" in err and "example 5 holds NaN" in err
    assert not (tmp_path / "run").exists()


def test_a_streamed_nan_example_is_met_by_the_policy_each_time_it_comes(npy_data, tmp_path, capsys, quick_plots):
    poison(npy_data)
    out = tmp_path / "run"
    # 24 examples in batches of 4: all six steps, so the bad example is drawn once per epoch
    code, printed, err = train_tiny(npy_data, out, capsys, "restore", "--set", "data.on_device=never",
                                    "--set", "training.max_steps_per_epoch=6")
    assert code == 0, err
    assert [row["nan_events"] for row in epoch_rows(out)] == [1, 1]
    assert printed.count("restored the last good state") == 2
    trainer, finite = final_state(out)
    assert finite and trainer["monitor"]["health"]["total_events"] == 2


# --- batches -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_restore_policy_recovers_from_a_non_finite_batch_and_records_it(npy_data, tmp_path, capsys, inject,
                                                                        quick_plots, value):
    inject({2}, value)
    out = tmp_path / "run"
    code, printed, err = train_tiny(npy_data, out, capsys, "restore")
    assert code == 0, err
    rows = epoch_rows(out)
    assert [row["nan_events"] for row in rows] == [1, 0]
    assert all(math.isfinite(row[key]) for row in rows for key in ("loss_d", "loss_g"))
    assert [row["lr_generator"] for row in rows] == [LR, LR]
    bad = iteration_rows(out, 1)[1]
    assert bad["iteration"] == 2 and not math.isfinite(bad["loss_d"])  # the bad step is on record
    assert "non-finite loss_d" in printed and "epoch 1, iterations 2-2" in printed
    assert "restored the last good state" in printed
    trainer, finite = final_state(out)
    assert finite and trainer["monitor"]["health"]["total_events"] == 1


def test_lower_lr_policy_restores_and_halves_every_rate(npy_data, tmp_path, capsys, inject, quick_plots):
    inject({STEPS + 2})  # epoch 2, step 2
    out = tmp_path / "run"
    code, printed, err = train_tiny(npy_data, out, capsys, "lower_lr")
    assert code == 0, err
    rows = epoch_rows(out)
    assert [row["nan_events"] for row in rows] == [0, 1]
    assert [row["lr_generator"] for row in rows] == [LR, LR / 2]
    assert [row["lr_discriminator"] for row in rows] == [LR, LR / 2]
    assert "halved the learning rates" in printed
    assert final_state(out)[1]
    optimizers = load_checkpoint(out / "checkpoints" / "final_model.tar")["method"]["optimizers"]
    assert all(group["lr"] == LR / 2 for state in optimizers.values() for group in state["param_groups"])


def test_skip_policy_restores_when_a_nan_batch_broke_the_weights(npy_data, tmp_path, capsys, inject, quick_plots):
    inject({3})
    out = tmp_path / "run"
    code, printed, err = train_tiny(npy_data, out, capsys, "skip")
    assert code == 0, err
    assert [row["nan_events"] for row in epoch_rows(out)] == [1, 0]
    assert "the weights became non-finite too, so the last good state was restored" in printed
    assert final_state(out)[1]


def test_stop_policy_ends_the_run_with_exit_code_1_and_a_clear_message(npy_data, tmp_path, capsys, inject,
                                                                      quick_plots):
    inject({STEPS + 1})  # epoch 2, step 1: epoch 1's checkpoint is the last good state
    out = tmp_path / "run"
    code, _, err = train_tiny(npy_data, out, capsys, "stop")
    assert code == 1 and "Traceback" not in err
    assert "non-finite loss_d" in err and "epoch 2, iterations 1-1" in err and "monitor.nan_policy=stop" in err
    assert f"--resume {out}" in err
    assert math.isnan(iteration_rows(out, 2)[0]["loss_d"])
    assert [row["epoch"] for row in epoch_rows(out)] == [1]  # the bad epoch left no row
    assert load_checkpoint(out / "checkpoints" / "checkpoint_epoch_1.tar")["trainer"]["epoch"] == 1


# --- losses ------------------------------------------------------------------------------------------
def test_a_nan_loss_is_caught_and_restored(npy_data, tmp_path, capsys, monkeypatch, quick_plots):
    build = gan_method.build_loss
    calls = {"critic": 0}

    class NanOnce:
        """The configured loss, except that its 4th critic loss is NaN."""

        def __init__(self, loss):
            self.loss = loss

        def __getattr__(self, name):
            return getattr(self.loss, name)

        def discriminator(self, real, fake):
            calls["critic"] += 1
            value = self.loss.discriminator(real, fake)
            return value * math.nan if calls["critic"] == 4 else value

    monkeypatch.setattr(gan_method, "build_loss", lambda training: NanOnce(build(training)))
    out = tmp_path / "run"
    code, printed, err = train_tiny(npy_data, out, capsys, "restore")
    assert code == 0, err
    assert calls["critic"] == 2 * STEPS
    assert [row["nan_events"] for row in epoch_rows(out)] == [0, 1]
    assert math.isnan(iteration_rows(out, 2)[0]["loss_d"])
    assert "restored the last good state" in printed
    assert final_state(out)[1]
