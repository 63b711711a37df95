"""The configuration schema: presets, comments, overrides, family defaults, errors naming keys (also: reliability/)."""

import json
from importlib import resources

import pytest

from spectrogen.config import build_config, config_to_dict, load_config, parse_override
from spectrogen.config.loader import strip_json_comments, value_at
from spectrogen.errors import ConfigError

from common import run_cli


@pytest.mark.parametrize("preset, expected", [
    ("default", {"model.image_size": 128, "training.epochs": 200, "training.batch_size": 64}),
    ("test", {"model.image_size": 64, "training.epochs": 10, "training.batch_size": 8}),
    ("autoencoder", {"model.name": "autoencoder", "model.height": 128, "model.width": 256, "model.latent_dim": 128,
                     "training.lr_schedule": "cosine"}),
    ("digits", {"model.name": "diffusion", "model.height": 32, "model.width": 32}),
])
def test_presets_hold_their_sizes_and_lengths(preset, expected):
    config = load_config(preset)
    assert {key: value_at(config, key) for key in expected} == expected


def test_template_names_every_field_of_the_schema():
    text = (resources.files("spectrogen.config") / "presets" / "template.jsonc").read_text()
    raw = json.loads(strip_json_comments(text))
    full = load_config("template").model_dump()

    def keys(d, prefix=""):
        for k, v in d.items():
            yield prefix + k
            if isinstance(v, dict) and k != "resolved_from":  # what spectrogen records, not a setting
                yield from keys(v, prefix + k + ".")

    assert set(keys(full)) == set(keys(raw))


def test_comments_and_trailing_commas_are_allowed_but_strings_are_kept():
    text = '{\n "name": "a // not a comment /* nor this */", // real comment\n /* block */ "x": [1, 2,],\n}'
    assert json.loads(strip_json_comments(text)) == {"name": "a // not a comment /* nor this */", "x": [1, 2]}


def test_family_defaults_fill_only_what_was_left_open():
    specgan = load_config("default", [("model.name", "specgan")])
    t = specgan.training
    assert (t.loss, t.learning_rate, t.beta1, t.beta2, t.critic_steps) == ("wgan-gp", 1e-4, 0.5, 0.9, 5)
    assert specgan.model.batchnorm is False and specgan.model.latent_distribution == "uniform"
    dcgan = load_config("default", [("training.learning_rate", 5e-4)])
    assert (dcgan.training.loss, dcgan.training.learning_rate, dcgan.training.learning_rate_d) == ("bce", 5e-4, 5e-4)
    cgan = load_config("default", [("model.name", "cgan"), ("model.conditional.base", "dcgan")])
    assert cgan.training.loss == "bce"
    t = load_config("test", [("model.name", "autoencoder")]).training  # AdamW with weight decay, cosine schedule
    assert (t.learning_rate, t.weight_decay, t.grad_clip, t.lr_schedule) == (1e-3, 1e-4, 1.0, "cosine")


def test_file_config_with_overrides(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text('{"model": {"name": "specgan", "image_size": 64}, // small\n "training": {"epochs": 3}}')
    config = load_config(str(path), [parse_override("training.batch_size=4"), ("output.output_dir", "x")])
    assert (config.model.image_size, config.training.epochs, config.training.batch_size) == (64, 3, 4)
    assert config.output.output_dir == "x"
    assert list(config.resolved_from) == [f"file {path}", "overrides", "family specgan"]


def test_the_configuration_records_which_preset_or_step_set_each_value():
    config = load_config("test", [("model.name", "specgan"), ("training.epochs", 3)],
                         settings=[("mine", {"training.batch_size": 4, "training.epochs": 5})])
    steps = config.resolved_from
    assert list(steps) == ["preset test", "mine", "overrides", "family specgan"]
    assert {"model.image_size", "training.epochs"} <= set(steps["preset test"])
    assert steps["mine"] == ["training.batch_size", "training.epochs"]
    assert steps["overrides"] == ["model.name", "training.epochs"]  # the last step naming a key set it
    assert "training.loss" in steps["family specgan"] and "training.epochs" not in steps["family specgan"]
    assert (config.training.epochs, config.training.batch_size, config.training.loss) == (3, 4, "wgan-gp")
    # the record travels with the run's saved configuration; resolving it again adds nothing
    assert build_config(config_to_dict(config)).resolved_from == steps


@pytest.mark.parametrize("override, named", [
    (("model.image_width", 96), "model.image_width=96"),
    (("model.upsample", "cubic"), "model.upsample"),
    (("training.loss", "l2"), "training.loss"),
])
def test_bad_values_name_the_key_and_the_value(override, named):
    with pytest.raises(ConfigError) as info:
        load_config("default", [override])
    assert named in str(info.value) and str(override[1]) in str(info.value)


def test_cli_flags_reach_the_configuration(capsys):
    _, printed, _ = run_cli(["train", "--print-config", "--model", "specgan", "--epochs", "7", "--batch-size", "3",
                             "--learning-rate", "0.001", "--image-size", "64", "--features-g", "16",
                             "--features-d", "8", "--device", "cpu", "--output-dir", "somewhere",
                             "--set", "training.gp_lambda=5"], capsys, ok=True)
    config = json.loads(printed)
    training, model = config["training"], config["model"]
    assert (training["epochs"], training["batch_size"], training["learning_rate"], training["device"],
            training["gp_lambda"]) == (7, 3, 0.001, "cpu", 5.0)
    assert (model["image_size"], model["features_g"], model["features_d"]) == (64, 16, 8)
    assert config["output"]["output_dir"] == "somewhere"
