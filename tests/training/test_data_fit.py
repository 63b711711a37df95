"""Unset sizes follow the data, pictures are normalised as whole images, and the cost is said up front."""

from __future__ import annotations

import json

import pytest

from spectrogen.cli.main import main
from spectrogen.config import load_config
from spectrogen.training import budget
from spectrogen.training.budget import OverheadBudget, RunPlan, faster_setting
from spectrogen.training.data_fit import buildable_size, data_fit_overrides


@pytest.mark.parametrize("name, shape, expected", [
    ("diffusion", (32, 32), (32, 32)), ("diffusion", (30, 53), (32, 52)), ("dcgan", (32, 32), (32, 32)),
    ("dcgan", (128, 128), (128, 128)), ("specgan", (64, 256), (64, 256)), ("dcgan", (100, 300), (128, 256)), ("cgan", (128, 64), (128, 64)),
    ("cgan", (8, 8), (32, 32)), ("dcgan", (8, 8), (32, 32))])
def test_the_model_takes_the_data_sets_size_or_the_nearest_it_can_build(name, shape, expected):
    config = load_config("default", [("model.name", name)])
    assert buildable_size(config, shape) == expected
    chosen, notes = data_fit_overrides(config, shape, "npy", given=())
    size = dict(chosen).get("model.image_size", config.model.height)
    assert size == expected[0]
    # a size that differs is said once, where the examples are resized (training.data_loading)
    said = f"model size {size}x{expected[1]}: the data set's (set --image-size to choose another)"
    assert notes == ([] if tuple(shape) != expected else [said])


def test_a_height_alone_keeps_the_data_sets_time_to_frequency_proportions():
    # 2 s of sound at 128 x 256 must not be squeezed into a square model's 1 s of frames
    config = load_config("default", [("model.name", "specgan"), ("model.image_size", 64)])
    chosen, notes = data_fit_overrides(config, (128, 256), "audio", given={"model.image_size"})
    assert dict(chosen) == {"model.image_width": 128} and "proportions" in notes[0]
    assert data_fit_overrides(config, (128, 256), "audio", given={"model.image_size", "model.image_width"})[0] == []
    assert data_fit_overrides(config, (128, 128), "audio", given={"model.image_size"})[0] == []


def test_a_size_or_normalisation_the_user_gave_is_kept_and_pictures_are_whole_images():
    config = load_config("default", [("model.name", "diffusion")])
    chosen, _ = data_fit_overrides(config, (32, 32), "builtin:digits", given={"model.image_size"})
    assert dict(chosen) == {"data.normalization": "minmax"}
    chosen, _ = data_fit_overrides(config, (32, 32), "builtin:digits", given={"data.normalization"})
    assert "data.normalization" not in dict(chosen)
    chosen, _ = data_fit_overrides(config, (128, 128), "audio", given=())
    assert "data.normalization" not in dict(chosen)  # spectrograms keep the per-frequency normalisation


@pytest.mark.usefixtures("one_thread")
def test_digits_train_a_32x32_unet_normalised_as_images_and_the_plan_is_printed(tmp_path, capsys):
    data = tmp_path / "digits"
    assert main(["prepare", "builtin:digits", "--out", str(data), "--quiet"]) == 0
    run = tmp_path / "run"
    code = main(["train", "--model", "diffusion", "--data", str(data), "--epochs", "1", "--batch-size", "16",
                 "--output-dir", str(run), "--quiet", "--set", "training.max_steps_per_epoch=14",
                 "--set", "model.diffusion.base_channels=8", "--set", "output.report=false"])
    out = capsys.readouterr().out
    assert code == 0
    config = json.loads((run / "epochs_statistics" / "experiment_config.json").read_text())
    assert (config["model"]["image_size"], config["model"]["image_width"]) == (32, None)
    assert config["data"]["normalization"] == "minmax"
    assert "model size 32x32: the data set's" in out and "normalised as whole images" in out
    assert "plan: " in out and "steps to go" in out


def test_the_budget_holds_writes_to_their_share_after_the_grace_period():
    spent = OverheadBudget(share=0.1)
    spent.trained(budget.GRACE_SECONDS / 2)
    spent.spent(budget.GRACE_SECONDS / 4)
    assert spent.allows()  # a short run writes everything as configured
    spent.trained(10 * budget.GRACE_SECONDS)
    assert spent.allows()  # 30 of 1230 s is under a tenth
    spent.spent(200.0)
    spent.last_checkpoint = spent.train_seconds
    assert not spent.allows() and not spent.checkpoint_due()
    spent.trained(60.0 * budget.CHECKPOINT_MINUTES)
    assert spent.checkpoint_due()
    assert 0.0 < spent.share_spent() < 1.0


def test_a_long_cpu_estimate_names_a_setting_about_ten_times_faster(monkeypatch):
    clock = iter(float(t) for t in range(0, 10000, 10))  # each reading 10 s later: 10 steps in 10 s
    monkeypatch.setattr(budget.time, "perf_counter", lambda: next(clock))
    plan = RunPlan(planned_steps=5000, done_steps=0, device="cpu",
                   faster=faster_setting("cgan", 128, 128, 64, 64))
    lines = [plan.step() for _ in range(budget.WARMUP_STEPS + budget.TIMED_STEPS)]
    line = lines[-1]
    assert all(item is None for item in lines[:-1]) and line is not None
    assert "5,000 steps to go" in line and "1.00 s a step" in line and "83 min" in line
    assert "--image-size 64 --features-g 32 --features-d 32 trains about 10x faster" in line
    assert faster_setting("dcgan", 32, 32, 8, 8) is None  # nothing sensible is ten times cheaper
