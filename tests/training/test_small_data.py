"""The settings chosen for the data set and the device where the user chose none (the model's size, pictures'
normalisation, a small data set's batch, augmentation, average and length), and the run's cost said up front."""

import json

import pytest

from spectrogen.cli.main import main
from spectrogen.config import load_config
from spectrogen.training import budget
from spectrogen.training.budget import OverheadBudget, RunPlan, faster_setting
from spectrogen.training.small_data import (AUGMENT_BELOW, CONDITIONAL_RECIPE, MIN_STEPS, SMALL_DATA, SMALL_GAN_RECIPE,
                                            buildable_size, data_fit_overrides, describe, resolve_settings,
                                            small_batch, small_data_overrides, warnings)

from common import write_dataset
from training_helpers import tone_features


@pytest.mark.parametrize("name, shape, expected", [
    ("diffusion", (32, 32), (32, 32)), ("diffusion", (30, 53), (32, 52)), ("dcgan", (32, 32), (32, 32)),
    ("dcgan", (128, 128), (128, 128)), ("specgan", (64, 256), (64, 256)), ("dcgan", (100, 300), (128, 256)),
    ("cgan", (128, 64), (128, 64)), ("cgan", (8, 8), (32, 32)), ("dcgan", (8, 8), (32, 32))])
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
    plan = RunPlan(planned=5000, done=0, device="cpu",
                   faster=faster_setting("cgan", 128, 128, 64, 64))
    lines = [plan.step() for _ in range(budget.WARMUP_STEPS + budget.TIMED_STEPS)]
    line = lines[-1]
    assert all(item is None for item in lines[:-1]) and line is not None
    assert "5,000 steps to go" in line and "1.00 s a step" in line and "83 min" in line
    assert "--image-size 64 --features-g 32 --features-d 32 trains about 10x faster" in line
    assert faster_setting("dcgan", 32, 32, 8, 8) is None  # nothing sensible is ten times cheaper


def test_batch_is_a_power_of_two_of_at_most_a_quarter_of_the_examples():
    assert small_batch(20, 64) == 4
    assert small_batch(200, 64) == 32
    assert small_batch(6, 64) == 2  # never fewer than 2: batch statistics need two examples
    assert small_batch(900, 16) == 16  # never larger than asked


def test_small_data_settings_leave_the_users_own_alone():
    config = load_config("default", [])
    chosen = dict(small_data_overrides(config, 20, given=()))
    assert chosen["training.batch_size"] == 4
    assert chosen["training.diffaugment"] == ["translation", "cutout"] and chosen["training.ema_decay"] == 0.99
    assert chosen["training.epochs"] * (20 // 4) >= MIN_STEPS
    mine = dict(small_data_overrides(config, 20, given={"training.epochs", "training.diffaugment"}))
    assert "training.epochs" not in mine and "training.diffaugment" not in mine and mine["training.batch_size"] == 4
    # a large data set keeps the preset (on a GPU; on a CPU the GANs take the fast recipe)
    assert small_data_overrides(config, SMALL_DATA, given=(), device="cuda") == []


def test_a_few_dozen_examples_get_the_gan_recipe_that_learned_twenty_phrases():
    # SpecGAN's WGAN-GP at five critic updates drew one texture on 20 spoken phrases; the recipe did not
    config = load_config("default", [("model.name", "specgan")])
    chosen = dict(small_data_overrides(config, 20, given=()))
    assert all(chosen[key] == value for key, value in SMALL_GAN_RECIPE.items())
    mine = dict(small_data_overrides(config, 20, given={"training.loss"}))
    assert "training.loss" not in mine and mine["training.mode_seeking"] == 1.0
    larger = dict(small_data_overrides(config, AUGMENT_BELOW, given=(), device="cuda"))
    assert not set(SMALL_GAN_RECIPE) & set(larger)  # on a GPU 200 examples and more keep the family's own training
    diffusion = dict(small_data_overrides(load_config("default", [("model.name", "diffusion")]), 20, given=()))
    assert not set(SMALL_GAN_RECIPE) & set(diffusion)


class Twenty:
    """What `resolve_settings` reads of a data set: 20 spectrograms of 64x64 made from audio."""

    shape, metadata = (64, 64), {"source": {"kind": "audio"}}

    def __len__(self):
        return 20


def test_each_choice_is_recorded_as_its_step_and_a_named_preset_is_kept():
    config = load_config("default", [("model.name", "specgan")])
    chosen, notes = resolve_settings(config, Twenty(), given={"model.name"}, device="cpu")
    steps = chosen.resolved_from
    assert list(steps)[-3:] == ["data set", "fast GAN recipe", "small data"]
    assert set(steps["fast GAN recipe"]) <= set(SMALL_GAN_RECIPE) and "training.batch_size" in steps["small data"]
    assert (chosen.model.image_size, chosen.training.loss, chosen.training.batch_size) == (64, "hinge", 4)
    assert any("small data set" in note for note in notes)
    # a named preset or a file is the user's choice: nothing is chosen for it, what goes wrong is still said
    assert resolve_settings(config, Twenty(), given=None, device="cpu") == (config, warnings(config, 20))


def test_a_short_run_without_augmentation_is_warned_about_once():
    config = load_config("default", [("training.epochs", 60), ("training.batch_size", 4)])
    lines = warnings(config, 20)
    assert len(lines) == 2 and "300 steps" in lines[0] and "diffaugment" in lines[1]


def test_train_on_twenty_examples_with_no_batch_flag_runs_and_ends_with_a_summary(tmp_path, capsys):
    features, labels = tone_features(20)
    data = write_dataset(tmp_path / "data", features, labels, ["low", "mid", "high"])
    out = tmp_path / "run"
    code = main(["train", "--data", str(data), "--output-dir", str(out), "--model", "dcgan", "--image-size", "32",
                 "--epochs", "2", "--set", "model.features_g=4", "--set", "model.features_d=4", "--quiet"])
    printed = capsys.readouterr().out
    assert code == 0  # the preset's batch of 64 would have refused 20 examples
    saved = json.loads((out / "epochs_statistics" / "experiment_config.json").read_text())
    assert saved["training"]["batch_size"] == 4 and saved["training"]["diffaugment"] == ["translation", "cutout"]
    assert saved["training"]["epochs"] == 2  # given on the command line: kept, and warned about
    assert list(saved["resolved_from"])[-2:] == ["fast GAN recipe", "small data"]
    assert printed.count("is a small data set") == 1 and "10 steps" in printed
    # the summary: what was trained, how long, where the report is, how to continue
    assert "done: trained 2 of 2 epochs in 0 min" in printed
    assert str(out / "report.html") in printed and f"spectrogen train --resume {out} --epochs 52" in printed


def test_on_a_cpu_gans_of_any_size_take_the_fast_recipe_and_the_paper_is_one_setting_away():
    config = load_config("default", [("model.name", "cgan")])
    chosen = dict(small_data_overrides(config, 5000, given=(), device="cpu"))
    assert all(chosen[key] == value for key, value in {**SMALL_GAN_RECIPE, **CONDITIONAL_RECIPE}.items())
    assert "training.batch_size" not in chosen  # 5,000 examples is not a small data set
    paper = load_config("default", [("model.name", "cgan"), ("training.recipe", "paper")])
    assert small_data_overrides(paper, 5000, given={"training.recipe"}, device="cpu") == []
    fast = load_config("default", [("model.name", "specgan"), ("training.recipe", "fast")])
    assert dict(small_data_overrides(fast, 5000, given={"training.recipe"}, device="cuda"))["training.loss"] == "hinge"
    note = describe(list(chosen.items()), 5000, "cpu")
    assert "fast GAN recipe on a CPU" in note and "training.recipe=paper" in note and "small data" not in note
