"""Bad input gets one clear line naming the file or field, exit code 2 and no traceback; nothing is lost.
`prepare` skips and lists bad files among good ones; files that carry code: test_untrusted_files.py."""

import json
import os
import shutil
import types

import numpy as np
import pytest
import soundfile
import torch
from PIL import Image

from spectrogen.cli.main import main

from common import RunsCode, assert_refused, quick_figures, run_cli, tree_digest, write_tone
from reliability_helpers import (assert_each_refused, assert_skipped, make_npy_dataset, new_folder,
                                 prepare_and_read_summary, train_args, write_files)

pytestmark = pytest.mark.bad_input

ROOT_READS_EVERYTHING = getattr(os, "geteuid", lambda: 1)() == 0
ROOT_REASON = "running as root: file permissions do not stop root from reading (the broken link and pipe cases cover it)"


# --- inputs shared by the command cases ------------------------------------------------------------------
@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Every bad file the command cases use, beside a good data set and a good checkpoint."""
    root = tmp_path_factory.mktemp("bad_input")
    paths = types.SimpleNamespace(root=root, marker=root / "code_ran")
    paths.data, paths.run = make_npy_dataset(root), root / "run"
    with pytest.MonkeyPatch.context() as patch:  # a good run: one epoch of two steps of a tiny DCGAN
        quick_figures(patch.setattr)
        assert main(train_args(paths.data, paths.run, steps=2)) == 0
    paths.checkpoint = paths.run / "checkpoints" / "final_model.tar"
    good = paths.checkpoint.read_bytes()

    bad = new_folder(root / "bad")
    paths.truncated_checkpoint, paths.empty_checkpoint, paths.text_checkpoint, paths.foreign_checkpoint = (
        bad / name for name in ("truncated.tar", "empty.tar", "notes.tar", "state_dict.pth"))
    paths.truncated_checkpoint.write_bytes(good[: len(good) // 2])
    paths.empty_checkpoint.write_bytes(b"")
    paths.text_checkpoint.write_text("this is not a checkpoint\n")
    torch.save(torch.nn.Linear(2, 2).state_dict(), paths.foreign_checkpoint)

    paths.configs = write_files(root / "configs", {
        "unknown.json": '{"training": {"epochs": 2, "epochz": 3}, "modle": {}}',
        "wrong_type.json": '{"training": {"epochs": "many", "seed": [1]}}',
        "out_of_range.json": '{"training": {"batch_size": 0, "learning_rate": -1}, "model": {"image_size": 48}}',
        "broken.json": '{"training": {"epochs": 2,,}',
        "list.json": "[1, 2]",
    })

    # broken data sets
    paths.not_a_dataset = write_files(root / "not_a_dataset", {"readme.txt": "hello"})
    for name in ("truncated_features", "corrupt_metadata", "newer_format"):
        shutil.copytree(paths.data, root / name)
    features = (root / "truncated_features" / "features.npy").read_bytes()
    (root / "truncated_features" / "features.npy").write_bytes(features[: len(features) // 2])
    (root / "corrupt_metadata" / "dataset.json").write_text('{"format": "spectrogen-dataset", ')
    metadata = json.loads((root / "newer_format" / "dataset.json").read_text())
    (root / "newer_format" / "dataset.json").write_text(json.dumps({**metadata, "format_version": 99}))
    paths.empty_folder = new_folder(root / "empty_folder")

    # arrays for convert and evaluate
    arrays = paths.arrays = new_folder(root / "arrays")
    rng = np.random.default_rng(0)
    np.save(arrays / "good.npy", rng.random((3, 1, 32, 32)).astype(np.float32))
    with_nan = rng.random((3, 1, 32, 32)).astype(np.float32)
    with_nan[1, 0, 4, 4] = np.nan
    np.save(arrays / "nan.npy", with_nan)
    np.save(arrays / "channels.npy", rng.random((2, 3, 32, 32)).astype(np.float32))
    np.save(arrays / "one_d.npy", rng.random(32).astype(np.float32))
    np.save(arrays / "objects.npy", np.array([RunsCode(paths.marker)], dtype=object), allow_pickle=True)
    good_array = (arrays / "good.npy").read_bytes()
    (arrays / "truncated.npy").write_bytes(good_array[: len(good_array) // 2])
    (arrays / "empty.npy").write_bytes(b"")
    (arrays / "text.npy").write_text("1, 2, 3\n")
    yield paths
    assert not paths.marker.exists(), "a file's pickled code ran"


# --- prepare: bad files among good ones are skipped and listed -------------------------------------------
def test_prepare_skips_bad_recordings_among_good_ones_at_mixed_rates(tmp_path, capsys):
    source = tmp_path / "recordings"
    for rate, suffix, letter in ((16000, "wav", "a"), (22050, "flac", "b"), (44100, "wav", "c"), (48000, "ogg", "d")):
        write_tone(source / f"good_{letter}_{rate}.{suffix}", sample_rate=rate, seconds=1.1)
    long_flac = write_tone(tmp_path / "long.flac", seconds=3.0)
    (source / "truncated.flac").write_bytes(long_flac.read_bytes()[: long_flac.stat().st_size // 2])
    good = (source / "good_a_16000.wav").read_bytes()
    (source / "truncated.wav").write_bytes(good[: len(good) // 4])
    (source / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + good[200:400])
    (source / "notes.wav").write_text("this is a text file, not audio\n")
    (source / "empty.wav").write_bytes(b"")
    (source / "no_frames.wav").write_bytes(good[:44])
    write_tone(source / "silence.wav", amplitude=0.0)
    samples = 0.5 * np.sin(np.linspace(0, 2000, 17600)).astype(np.float32)
    with_nan, with_inf = samples.copy(), samples.copy()
    with_nan[5000:5100] = np.nan
    with_inf[::7] = np.inf
    soundfile.write(source / "nan_samples.wav", with_nan, 16000, subtype="FLOAT")
    soundfile.write(source / "inf_samples.wav", with_inf, 16000, subtype="FLOAT")
    os.symlink(tmp_path / "gone.wav", source / "broken_link.wav")
    os.mkfifo(source / "pipe.wav")  # opening it would wait forever for a writer
    expected = {
        "truncated.flac": "decoding failed", "truncated.wav": "too short", "corrupt.wav": "not an audio file",
        "notes.wav": "not an audio file", "empty.wav": "empty file (0 bytes)", "no_frames.wav": "no audio frames",
        "silence.wav": "silent", "nan_samples.wav": "NaN or infinite samples",
        "inf_samples.wav": "NaN or infinite samples", "broken_link.wav": "broken symbolic link",
        "pipe.wav": "not a regular file",
    }
    if not ROOT_READS_EVERYTHING:
        locked = write_tone(source / "locked.wav")
        locked.chmod(0)
        expected["locked.wav"] = "unreadable: Permission denied"
        write_tone(source / "locked_folder" / "inside.wav").parent.chmod(0)
        expected["locked_folder/"] = "unreadable folder (permission denied)"
    summary, printed = prepare_and_read_summary(source, tmp_path / "data", capsys, "--image-size", "32")
    assert_skipped(summary, printed, expected)
    # every good file was used whatever its rate, one window each (1.1 s, windows of 1.024 s)
    assert summary["files_used"] == 4 and summary["examples"] == 4
    assert np.isfinite(np.load(tmp_path / "data" / "features.npy")).all()


@pytest.mark.skipif(ROOT_READS_EVERYTHING, reason=ROOT_REASON)
def test_prepare_of_an_unreadable_folder_says_so(tmp_path, capsys):
    source = tmp_path / "locked"
    write_tone(source / "a.wav")
    source.chmod(0)
    try:
        code, _, err = run_cli(["prepare", source, "--out", tmp_path / "data"], capsys)
    finally:
        source.chmod(0o755)
    assert_refused(code, err, str(source))


def test_prepare_skips_bad_csv_files(tmp_path, capsys):
    source = new_folder(tmp_path / "csv")
    rng = np.random.default_rng(1)
    for index in range(3):
        np.savetxt(source / f"good_{index}.csv", rng.random((32, 32)), delimiter=",")
    with_nan, with_inf = rng.random((32, 32)), rng.random((32, 32))
    with_nan[3, 4], with_inf[5, 6] = np.nan, -np.inf
    np.savetxt(source / "nan.csv", with_nan, delimiter=",")
    np.savetxt(source / "inf.csv", with_inf, delimiter=",")
    np.savetxt(source / "wrong_shape.csv", rng.random((20, 32)), delimiter=",")
    np.savetxt(source / "words.csv", np.full((32, 32), "loud"), fmt="%s", delimiter=",")
    (source / "ragged.csv").write_text("\n".join(",".join(["1"] * (32 - row % 2)) for row in range(32)) + "\n")
    (source / "empty.csv").write_bytes(b"")
    summary, printed = prepare_and_read_summary(source, tmp_path / "data", capsys)
    assert_skipped(summary, printed, {
        "nan.csv": "NaN or infinite (first at row 4, column 5)", "inf.csv": "NaN or infinite (first at row 6",
        "wrong_shape.csv": "wrong size: 20 x 32", "words.csv": "not a table of numbers",
        "ragged.csv": "not a table of numbers", "empty.csv": "wrong size: 0 x 0",
    })
    assert summary["examples"] == 3


def test_prepare_skips_bad_npy_files_and_drops_non_finite_examples(tmp_path, capsys):
    source = new_folder(tmp_path / "npy")
    rng = np.random.default_rng(2)
    np.save(source / "good.npy", rng.random((4, 32, 32)).astype(np.float32))
    some_nan = rng.random((3, 32, 32)).astype(np.float32)
    some_nan[1, 2, 3] = np.nan
    np.save(source / "some_nan.npy", some_nan)
    np.save(source / "all_inf.npy", np.full((2, 32, 32), np.inf, dtype=np.float32))
    np.save(source / "wrong_shape.npy", rng.random((2, 16, 32)).astype(np.float32))
    np.save(source / "one_d.npy", rng.random(32).astype(np.float32))
    marker = tmp_path / "code_ran"
    np.save(source / "objects.npy", np.array([RunsCode(marker)], dtype=object), allow_pickle=True)
    np.save(source / "strings.npy", np.array(["a", "b"]))
    good = (source / "good.npy").read_bytes()
    (source / "truncated.npy").write_bytes(good[: len(good) // 2])
    (source / "empty.npy").write_bytes(b"")
    (source / "text.npy").write_text("1 2 3\n")
    summary, printed = prepare_and_read_summary(source, tmp_path / "data", capsys)
    assert_skipped(summary, printed, {
        "all_inf.npy": "all 2 examples hold NaN or infinite", "wrong_shape.npy": "wrong size: 16 x 32",
        "one_d.npy": "shape (32,) is not", "objects.npy": "not a numeric .npy array",
        "strings.npy": "not a real number type", "truncated.npy": "not a numeric .npy array",
        "empty.npy": "empty file (0 bytes)", "text.npy": "not a numeric .npy array",
    })
    assert summary["notes"] == [{"file": "some_nan.npy",
                                 "note": "1 of 3 examples hold NaN or infinite values and were dropped"}]
    assert "some_nan.npy: 1 of 3 examples" in printed
    assert summary["examples"] == 6 and not marker.exists()
    moments = json.loads((tmp_path / "data" / "dataset.json").read_text())["moments"]
    assert np.isfinite(moments["mean"] + moments["std"]).all()


def test_prepare_skips_colour_and_broken_pngs_and_accepts_gray_stored_as_rgb(tmp_path, capsys):
    source = new_folder(tmp_path / "png")
    rng = np.random.default_rng(3)
    gray = (rng.random((32, 32)) * 255).astype(np.uint8)
    Image.fromarray(gray, "L").save(source / "gray.png")
    Image.fromarray(np.stack([gray] * 3, axis=-1), "RGB").save(source / "gray_as_rgb.png")
    Image.fromarray((rng.random((32, 32, 3)) * 255).astype(np.uint8), "RGB").save(source / "colour.png")
    Image.fromarray(gray[:20], "L").save(source / "wrong_size.png")
    good = (source / "gray.png").read_bytes()
    (source / "truncated.png").write_bytes(good[: len(good) // 2])
    (source / "text.png").write_text("not a picture\n")
    summary, printed = prepare_and_read_summary(source, tmp_path / "data", capsys)
    assert_skipped(summary, printed, {
        "colour.png": "colour image", "wrong_size.png": "wrong size: 20 x 32",
        "truncated.png": "truncated image", "text.png": "not a PNG image",
    })
    assert summary["files_used"] == 2


def test_prepare_refuses_what_makes_no_data_set_with_exit_code_2(tmp_path, capsys, record_property):
    source = tmp_path / "recordings"
    write_tone(source / "a.wav")
    only_bad = write_files(tmp_path / "only_bad", {"notes.wav": "text", "empty.wav": ""})
    mixed = tmp_path / "mixed"
    write_tone(mixed / "a.wav")
    np.savetxt(mixed / "b.csv", np.ones((4, 4)), delimiter=",")
    new_folder(tmp_path / "empty")
    (tmp_path / "a_file").write_text("x")
    out = str(tmp_path / "out")
    cases = [
        ([tmp_path / "empty", "--out", out], ["empty", "holds no audio"]),
        ([tmp_path / "missing", "--out", out], ["missing", "does not exist"]),
        ([only_bad, "--out", out], ["no example could be made", "notes.wav: not an audio file",
                                    "empty.wav: empty file"]),
        ([mixed, "--out", out], ["several kinds of files", "--kind"]),
        ([source, "--out", tmp_path / "a_file"], ["a_file is a file"]),
        ([source, "--out", source / "data"], ["overlaps the source"]),
        ([source, "--out", tmp_path, "--overwrite"], ["overlaps the source"]),
        ([source, "--out", out, "--limit", "0"], ["--limit 0"]),
        ([source, "--out", out, "--silence-db", "5"], ["--silence-db"]),
        ([source, "--out", out, "--n-fft", "0"], ["n_fft"]),
        ([source, "--out", out, "--n-fft", "100", "--hop", "400"], ["representation.hop_length=400"]),
        ([source, "--out", out, "--stems", "vocals,piano"], ["--stems"]),
        ([source, "--out", out, "--kind", "csv"], ["holds no CSV"]),
        (["builtin:nothing", "--out", out], ["unknown data source 'builtin:nothing'"]),
    ]
    before = tree_digest(tmp_path)
    assert_each_refused(cases, capsys, record_property, ["prepare"])
    assert tree_digest(tmp_path) == before  # nothing written anywhere, no staging folder left


# --- train -------------------------------------------------------------------------------------------
def test_train_refuses_bad_configurations_data_and_checkpoints_with_exit_code_2(inputs, capsys, record_property):
    p, root, run_before = inputs, inputs.root, tree_digest(inputs.run)
    configs, data, run, test = p.configs, p.data, p.run, ["--config", "test", "--data"]
    tiny = ["--output-dir", root / "new_run", "--batch-size", "4"]
    cases = [
        (["--config", configs / "unknown.json", "--data", data], ["training.epochz: unknown key", "modle: unknown key"]),
        (["--config", configs / "wrong_type.json", "--data", data], ["training.epochs = 'many'", "training.seed"]),
        (["--config", configs / "out_of_range.json", "--data", data],
         ["training.batch_size = 0", "training.learning_rate = -1", "model.image_size=48"]),
        (["--config", configs / "broken.json", "--data", data], ["broken.json", "not valid JSON at line 1"]),
        (["--config", configs / "list.json", "--data", data], ["list.json", "must be a JSON object"]),
        (["--config", configs / "missing.json", "--data", data], ["missing.json", "neither a preset"]),
        ([*test, data, "--set", "training.nope=1"], ["training.nope: unknown key"]),
        ([*test, data, "--set", "training.epochs"], ["--set 'training.epochs'"]),
        ([*test, data, "--set", "training.device=tpu"], ["training.device = 'tpu'"]),
        ([*test, data, "--epochs", "abc"], ["--epochs", "invalid int value"]),
        ([*test, root / "missing_data", *tiny], ["missing_data", "no such data set folder", "spectrogen prepare"]),
        ([*test, p.not_a_dataset, *tiny], ["not_a_dataset", "has no dataset.json"]),
        ([*test, root / "truncated_features", *tiny], ["truncated_features/features.npy", "not a readable .npy array"]),
        ([*test, root / "corrupt_metadata", *tiny], ["corrupt_metadata/dataset.json", "cannot be read as JSON"]),
        ([*test, root / "newer_format", *tiny], ["format_version 99", "upgrade"]),
        ([*test, data, "--output-dir", root / "new_run", "--batch-size", "1000"],
         ["fewer than training.batch_size=1000"]),
        (["--resume", p.truncated_checkpoint], ["truncated.tar", "truncated or corrupt"]),
        (["--resume", p.empty_checkpoint], ["empty.tar", "truncated or corrupt"]),
        (["--resume", p.foreign_checkpoint], ["state_dict.pth", "not a spectrogen checkpoint"]),
        (["--resume", p.text_checkpoint], ["notes.tar"]),
        (["--resume", run, "--model", "specgan"], ["model.name cannot change on resume", "dcgan"]),
        (["--resume", run, "--features-g", "16", "--epochs", "3"], ["do not fit the configuration"]),
        (["--resume", p.not_a_dataset], ["no checkpoint to resume from"]),
    ]
    assert_each_refused(cases, capsys, record_property, ["train"])
    assert not (root / "new_run").exists()  # refused before anything was written
    assert tree_digest(inputs.run) == run_before  # the run that was resumed is untouched


# --- sample ------------------------------------------------------------------------------------------
def test_sample_refuses_bad_checkpoints_and_options_with_exit_code_2(inputs, capsys, record_property):
    out = inputs.root / "samples"
    good = inputs.checkpoint
    cases = [
        ([inputs.truncated_checkpoint], ["truncated.tar", "truncated or corrupt"]),
        ([inputs.foreign_checkpoint], ["state_dict.pth", "not a spectrogen checkpoint"]),
        ([inputs.text_checkpoint], ["notes.tar"]),
        ([inputs.root / "missing.tar"], ["missing.tar", "no such checkpoint"]),
        ([good, "--n", "0"], ["--n 0"]),
        ([good, "--format", "mp3"], ["--format mp3"]),
        ([good, "--class", "dog"], ["unconditional dcgan", "--class"]),
    ]
    assert_each_refused(cases, capsys, record_property, ["sample"], ["--out", out])
    assert not out.exists()


def test_reconstruct_refuses_a_checkpoint_of_another_model(inputs, capsys):
    recording = write_tone(inputs.root / "one.wav")
    code, _, err = run_cli(["reconstruct", inputs.checkpoint, recording, "--out", inputs.root / "rec"], capsys)
    assert_refused(code, err, "final_model.tar", "dcgan", "autoencoder")


# --- convert -----------------------------------------------------------------------------------------
def test_convert_refuses_bad_arrays_with_exit_code_2_and_converts_the_good_ones(inputs, capsys, record_property):
    arrays, out = inputs.arrays, inputs.root / "images"
    cases = [
        ([arrays / "nan.npy"], ["nan.npy", "1 NaN or infinite"]),
        ([arrays / "channels.npy"], ["channels.npy", "C=3 channels"]),
        ([arrays / "one_d.npy"], ["one_d.npy", "1 dimensions"]),
        ([arrays / "objects.npy"], ["objects.npy", "Python objects"]),
        ([arrays / "truncated.npy"], ["truncated.npy", "not a readable .npy array"]),
        ([arrays / "empty.npy"], ["empty.npy", "not a readable .npy array"]),
        ([arrays / "text.npy"], ["text.npy"]),
        ([arrays / "missing.npy"], ["missing.npy", "no such file"]),
        ([inputs.empty_folder], ["empty_folder", "holds no .npy files"]),
        ([arrays / "good.npy", "--quality", "0"], ["--quality 0"]),
        ([arrays / "good.npy", "--colormap", "no_such_map"], ["unknown colormap 'no_such_map'"]),
    ]
    before = tree_digest(arrays)
    assert_each_refused(cases, capsys, record_property, ["convert"], ["--out", out])
    assert not out.exists()
    # a folder with bad files among a good one: the good one is converted, each bad one named, exit 2
    code, printed, err = run_cli(["convert", arrays, "--out", out], capsys)
    assert_refused(code, err, "7 file(s) could not be converted", *(f"{name}.npy" for name in (
        "nan", "channels", "one_d", "objects", "truncated", "empty", "text")), one_line=False)
    assert sorted(path.name for path in (out / "good_images").iterdir()) == [
        f"good_sample_{i:02d}.png" for i in (1, 2, 3)]
    assert tree_digest(arrays) == before


# --- evaluate ----------------------------------------------------------------------------------------
def test_evaluate_refuses_bad_checkpoints_data_and_samples_with_exit_code_2(inputs, capsys, record_property):
    arrays, data, run = inputs.arrays, inputs.data, inputs.run
    out = inputs.root / "evaluation"
    cases = [
        ([inputs.truncated_checkpoint, "--data", data], ["truncated.tar", "truncated or corrupt"]),
        ([run, "--data", inputs.root / "missing_data"], ["missing_data", "not a data set folder"]),
        ([run, "--data", inputs.not_a_dataset], ["not_a_dataset", "has no dataset.json"]),
        ([run, "--data", data, "--classifier", inputs.checkpoint], ["final_model.tar", "not a spectrogen-classifier"]),
        ([run, "--data", data, "--inception", inputs.truncated_checkpoint], ["truncated.tar"]),
        ([run, "--data", data, "--metrics", "fid,lpips"], ["unknown metric"]),
        ([run], ["--data DATA is required"]),
        ([run, "--data", data, "--n", "1"], ["--n 1"]),
        (["--samples", arrays / "nan.npy", "--data", data], ["nan.npy", "NaN or infinite"]),
        (["--samples", arrays / "objects.npy", "--data", data], ["objects.npy", "Python objects"]),
    ]
    assert_each_refused(cases, capsys, record_property, ["evaluate"], ["--out", out])
    assert not out.exists()
