"""NaN and infinity in data, batches and losses of a real `spectrogen train` are caught, handled as
`monitor.nan_policy` says and recorded in `nan_events`, the iteration CSV and the checkpoint."""

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


def train_tiny(data, tmp_path, capsys, policy, *extra, ok=True):
    """Returns (run, exit code, stdout, stderr) of two epochs of three steps logging every step (`ok`: checked)."""
    out = tmp_path / "run"
    arguments = train_args(data, out, "--set", "output.log_every=1", "--set", f"monitor.nan_policy={policy}", *extra,
                           epochs=2, steps=STEPS)
    return out, *run_cli(arguments, capsys, ok=ok)


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
    out, code, _, err = train_tiny(npy_data, tmp_path, capsys, "restore", "--set", "data.on_device=always", ok=False)
    assert code == 2 and "Traceback" not in err
    assert "features.npy" in err and "example 5 holds NaN" in err
    assert not out.exists()


def test_a_streamed_nan_example_is_met_by_the_policy_each_time_it_comes(npy_data, tmp_path, capsys, quick_plots):
    poison(npy_data)
    # 24 examples in batches of 4: all six steps, so the bad example is drawn once per epoch
    out, _, printed, _ = train_tiny(npy_data, tmp_path, capsys, "restore", "--set", "data.on_device=never",
                                    "--set", "training.max_steps_per_epoch=6")
    assert [row["nan_events"] for row in epoch_rows(out)] == [1, 1]
    assert printed.count("restored the last good state") == 2
    trainer, finite = final_state(out)
    assert finite and trainer["monitor"]["health"]["total_events"] == 2


# --- batches -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("policy, value, step, message, halved", [
    ("restore", math.nan, 2, "restored the last good state", False),
    ("restore", math.inf, 2, "restored the last good state", False),
    ("lower_lr", math.nan, STEPS + 2, "halved the learning rates", True),  # epoch 2, step 2
    ("skip", math.nan, 3, "the weights became non-finite too, so the last good state was restored", False),
], ids=["restore-nan", "restore-inf", "lower_lr", "skip"])
def test_each_policy_recovers_from_a_non_finite_batch_and_records_it(npy_data, tmp_path, capsys, inject, quick_plots,
                                                                     policy, value, step, message, halved):
    inject({step}, value)
    out, _, printed, _ = train_tiny(npy_data, tmp_path, capsys, policy)
    epoch, iteration = divmod(step - 1, STEPS)  # counted from 0
    rows = epoch_rows(out)
    assert [row["nan_events"] for row in rows] == [int(epoch == 0), int(epoch == 1)]
    assert all(math.isfinite(row[key]) for row in rows for key in ("loss_d", "loss_g"))
    rates = [LR, LR / 2 if halved else LR]
    assert [row["lr_generator"] for row in rows] == rates and [row["lr_discriminator"] for row in rows] == rates
    bad = iteration_rows(out, epoch + 1)[iteration]
    assert bad["iteration"] == iteration + 1 and not math.isfinite(bad["loss_d"])  # the bad step is on record
    assert "non-finite loss_d" in printed and message in printed
    assert f"epoch {epoch + 1}, iterations {iteration + 1}-{iteration + 1}" in printed
    trainer, finite = final_state(out)
    assert finite and trainer["monitor"]["health"]["total_events"] == 1
    optimizers = load_checkpoint(out / "checkpoints" / "final_model.tar")["method"]["optimizers"]
    assert all(group["lr"] == rates[1] for state in optimizers.values() for group in state["param_groups"])


def test_stop_policy_ends_the_run_with_exit_code_1_and_a_clear_message(npy_data, tmp_path, capsys, inject,
                                                                      quick_plots):
    inject({STEPS + 1})  # epoch 2, step 1: epoch 1's checkpoint is the last good state
    out, code, _, err = train_tiny(npy_data, tmp_path, capsys, "stop", ok=False)
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
    out, _, printed, _ = train_tiny(npy_data, tmp_path, capsys, "restore")
    assert calls["critic"] == 2 * STEPS
    assert [row["nan_events"] for row in epoch_rows(out)] == [0, 1]
    assert math.isnan(iteration_rows(out, 2)[0]["loss_d"])
    assert "restored the last good state" in printed
    assert final_state(out)[1]
