"""Settings that make no sense are refused before anything is written, in one line naming the field and the fix;
a resume says which hand edits of experiment_config.json it leaves out."""

import json

import pytest

from spectrogen.training.checkpoint import load_checkpoint

from common import assert_refused, run_cli, tree_digest
from reliability_helpers import train_args, write_files

pytestmark = pytest.mark.bad_input


def refused_before_writing(tmp_path, npy_data, capsys, extra, *expected):
    """Runs a one-epoch training with `extra` and checks that it is refused and writes nothing."""
    before = tree_digest(tmp_path)
    code, _, err = run_cli(train_args(npy_data, tmp_path / "run", *extra, steps=1), capsys)
    assert_refused(code, err, *expected)
    assert tree_digest(tmp_path) == before


def test_non_finite_settings_are_refused_from_flags_set_and_files(tmp_path, npy_data, capsys, record_property):
    write_files(tmp_path, {"infinity.json": '{"training": {"gp_lambda": Infinity}}', "nan.json":
                           '{"training": {"label_smoothing": NaN}, "data": {"augment": {"noise_std": -Infinity}}}'})
    cases = [
        (["--learning-rate", "inf"], ["training.learning_rate = inf", "finite number"]),
        (["--learning-rate", "nan"], ["training.learning_rate = nan", "finite number"]),
        (["--set", "training.gp_lambda=inf"], ["training.gp_lambda", "finite number"]),
        (["--set", "training.max_minutes=Infinity"], ["training.max_minutes = inf", "finite number"]),
        (["--set", "model.diffusion.guidance_scale=1e999"], ["model.diffusion.guidance_scale", "finite number"]),
        (["--config", tmp_path / "infinity.json"], ["infinity.json", "training.gp_lambda = inf", "finite number"]),
        (["--config", tmp_path / "nan.json"], ["training.label_smoothing = nan", "data.augment.noise_std = -inf"]),
    ]
    record_property("cases", len(cases))  # the battery counts each case
    for extra, expected in cases:
        refused_before_writing(tmp_path, npy_data, capsys, extra, *expected)


def test_image_sizes_beyond_any_spectrogram_are_refused(tmp_path, npy_data, capsys):
    # the U-Net is built for the data set's shape, so nothing but the bound stops these; a dry run
    # because without the bound a real one resizes the examples to that size (tens of GiB)
    diffusion = ["--model", "diffusion", "--dry-run"]
    for extra, expected in [
        (["--image-size", "65536"], ["model.image_size = 65536", "less than or equal to 2048"]),
        (["--set", "model.image_width=4096"], ["model.image_width = 4096", "less than or equal to 2048"]),
    ]:
        refused_before_writing(tmp_path, npy_data, capsys, [*diffusion, *extra], *expected)


def test_a_configuration_file_that_is_not_utf8_is_named(tmp_path, npy_data, capsys):
    path = tmp_path / "latin1.json"
    path.write_bytes('{"name": "café", "training": {"epochs": 1}}'.encode("latin-1"))
    refused_before_writing(tmp_path, npy_data, capsys, ["--config", path], str(path), "must be UTF-8 JSON")


def test_a_flag_and_a_set_that_disagree_are_refused(tmp_path, npy_data, capsys):
    refused_before_writing(tmp_path, npy_data, capsys, ["--set", "training.epochs=5"],
                           "--epochs 1", "--set training.epochs=5", "training.epochs")
    refused_before_writing(tmp_path, npy_data, capsys, ["--set", "model.image_size=64"],
                           "--image-size 32", "--set model.image_size=64")
    # the same value twice is one setting
    _, out, _ = run_cli(["train", "--print-config", "--epochs", "3", "--set", "training.epochs=3",
                         "--learning-rate", "0.001", "--set", "training.learning_rate=1e-3"], capsys, ok=True)
    config = json.loads(out)
    assert (config["training"]["epochs"], config["training"]["learning_rate"]) == (3, 0.001)


def test_a_value_for_a_whole_section_names_the_section(tmp_path, npy_data, capsys):
    refused_before_writing(tmp_path, npy_data, capsys, ["--set", "training=5"],
                           "training = 5: training is a section", "--set training.epochs=5", "batch_size")
    (tmp_path / "section.json").write_text('{"model": {"diffusion": 3}}')
    refused_before_writing(tmp_path, npy_data, capsys, ["--config", tmp_path / "section.json"],
                           "model.diffusion = 3: model.diffusion is a section", "--set model.diffusion.")


def test_resume_names_the_hand_edits_it_does_not_apply(finished_run, capsys):
    run = finished_run
    path = run / "epochs_statistics" / "experiment_config.json"
    edited = json.loads(path.read_text())
    edited["training"]["gp_lambda"] = 2.5
    edited["output"]["sample_every"] = 3
    edited["training"]["seed"] = 7
    path.write_text(json.dumps(edited))

    # training.seed is given on resume: it is applied, so only the other two edits are left out
    _, out, _ = run_cli(["train", "--resume", run, "--epochs", "2", "--set", "training.seed=7", "--quiet"],
                        capsys, ok=True)
    notices = [line for line in out.splitlines() if "experiment_config.json" in line]
    assert len(notices) == 1, out
    for text in ("output.sample_every, training.gp_lambda;", "checkpoint's configuration is used",
                 "--set section.key=value"):
        assert text in notices[0], notices[0]
    assert "training.seed" not in notices[0]
    saved = load_checkpoint(run / "checkpoints" / "final_model.tar")["config"]
    assert (saved["training"]["gp_lambda"], saved["output"]["sample_every"], saved["training"]["seed"]) == (10.0, 1, 7)

    # the resume rewrote the file with what it used: nothing more to say
    _, out, _ = run_cli(["train", "--resume", run, "--epochs", "3", "--quiet"], capsys, ok=True)
    assert "experiment_config.json" not in out
