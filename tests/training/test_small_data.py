"""A small data set chooses its own batch, augmentation, average and length where the user chose none."""

from __future__ import annotations

import json

import pytest

from spectrogen.cli.main import main
from spectrogen.config import load_config
from spectrogen.training.small_data import (AUGMENT_BELOW, CONDITIONAL_RECIPE, MIN_STEPS, SMALL_DATA, SMALL_GAN_RECIPE,
                                            describe, resolve_settings, small_batch, small_data_overrides, warnings)

from conftest import tone_features, write_dataset


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


@pytest.mark.usefixtures("one_thread")
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
