"""The configuration schema: presets, comments, overrides, family defaults and errors that name the key."""

import json

import pytest

from spectrogen.cli.main import main
from spectrogen.config import build_config, config_to_dict, load_config, parse_override
from spectrogen.config.loader import strip_json_comments
from spectrogen.errors import ConfigError


def test_presets_hold_their_sizes_and_lengths():
    default = load_config("default")
    assert (default.model.image_size, default.training.epochs, default.training.batch_size) == (128, 200, 64)
    test = load_config("test")
    assert (test.model.image_size, test.training.epochs, test.training.batch_size) == (64, 10, 8)
    # the commented template loads and covers every section of the schema
    template = load_config("template")
    assert template.model.name == "dcgan"


def test_template_names_every_field_of_the_schema():
    from importlib import resources

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


@pytest.mark.parametrize(
    "override, named",
    [
        (("training.batch_size", 0), "training.batch_size"),
        (("training.learning_rate", -1), "training.learning_rate"),
        (("model.image_size", 100), "model.image_size=100"),
        (("model.image_width", 96), "model.image_width=96"),
        (("model.upsample", "cubic"), "model.upsample"),
        (("model.colour", 3), "model.colour"),
        (("training.epochs", "many"), "training.epochs"),
        (("training.loss", "l2"), "training.loss"),
        (("training.device", "tpu"), "training.device"),
    ],
)
def test_bad_values_name_the_key_and_the_value(override, named):
    with pytest.raises(ConfigError) as info:
        load_config("default", [override])
    message = str(info.value)
    assert named in message
    assert str(override[1]) in message


def test_cli_exits_2_and_writes_nothing_on_a_bad_config(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "run"
    code = main(["train", "--batch-size", "0", "--output-dir", str(out)])
    assert code == 2
    assert "training.batch_size" in capsys.readouterr().err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_cli_flags_reach_the_configuration(capsys):
    code = main(["train", "--print-config", "--model", "specgan", "--epochs", "7", "--batch-size", "3",
                 "--learning-rate", "0.001", "--image-size", "64", "--features-g", "16", "--features-d", "8",
                 "--device", "cpu", "--output-dir", "somewhere", "--set", "training.gp_lambda=5"])
    assert code == 0
    config = json.loads(capsys.readouterr().out)
    assert config["training"]["epochs"] == 7 and config["training"]["batch_size"] == 3
    assert config["training"]["learning_rate"] == 0.001 and config["model"]["image_size"] == 64
    assert (config["model"]["features_g"], config["model"]["features_d"]) == (16, 8)
    assert config["training"]["device"] == "cpu" and config["output"]["output_dir"] == "somewhere"
    assert config["training"]["gp_lambda"] == 5.0


def test_malformed_set_and_json_file_are_usage_errors(tmp_path, capsys):
    assert main(["train", "--print-config", "--set", "training.epochs"]) == 2
    bad = tmp_path / "bad.json"
    bad.write_text('{"training": {"epochs": 3,,}}')
    assert main(["train", "--print-config", "--config", str(bad)]) == 2
    assert str(bad) in capsys.readouterr().err


def test_autoencoder_and_digits_presets_match_their_data():
    autoencoder = load_config("autoencoder")
    assert (autoencoder.model.name, autoencoder.model.height, autoencoder.model.width) == ("autoencoder", 128, 256)
    assert autoencoder.model.latent_dim == 128 and autoencoder.training.lr_schedule == "cosine"
    digits = load_config("digits")
    assert (digits.model.name, digits.model.height, digits.model.width) == ("diffusion", 32, 32)
