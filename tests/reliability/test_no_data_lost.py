"""Nothing a user made is lost: inputs are only read, outputs are replaced only with --overwrite, rows survive a kill.
Every input is hashed (content, mode, mtime) before and after each command."""

import json

import pytest

from spectrogen.data.dataset import SpectrogramDataset
from spectrogen.training.csv_log import CsvLog

from common import assert_refused, run_cli, tree_digest, write_tones
from processes import kill_hard, start_cli, wait_until
from reliability_helpers import (check_run_files, csv_table, epoch_numbers, feature_network, prepare_quietly,
                                 train_args, write_files)

pytestmark = pytest.mark.data_loss


@pytest.fixture
def workspace(tmp_path, capsys, quick_plots):
    """Recordings, the data set prepared from them and a finished two-epoch run, each checked to be intact."""
    source = write_tones(tmp_path / "recordings")
    before = tree_digest(source)
    data = prepare_quietly(source, tmp_path / "data", "--image-size", "32", "--window-hop", "0.1")
    assert tree_digest(source) == before
    data_before = tree_digest(data)
    run = tmp_path / "run"
    run_cli(train_args(data, run, epochs=2, steps=2), capsys, ok=True)
    assert tree_digest(data) == data_before
    return source, data, run


def added_only(before, after):
    """Returns the entries in `after` that are new, after checking that none of `before` changed."""
    changed = {key for key in before if after.get(key) != before[key]}
    assert not changed, changed
    return sorted(set(after) - set(before))


def test_no_command_writes_into_what_it_reads(workspace, tmp_path, capsys):
    source, data, run = workspace
    source_digest, data_digest, run_digest = tree_digest(source), tree_digest(data), tree_digest(run)
    checkpoint = run / "checkpoints" / "final_model.tar"

    samples = tmp_path / "samples"
    run_cli(["sample", checkpoint, "--n", "3", "--out", samples, "--seed", "0"], capsys, ok=True)
    assert tree_digest(run) == run_digest

    network = feature_network(tmp_path / "features.pt")
    network_bytes = network.read_bytes()
    evaluate = ["evaluate", run, "--data", data, "--inception", network, "--metrics", "fid", "--n", "16"]
    run_cli([*evaluate, "--out", tmp_path / "evaluation"], capsys, ok=True)
    assert (tmp_path / "evaluation" / "metrics.json").is_file()
    assert tree_digest(run) == run_digest and tree_digest(data) == data_digest
    assert network.read_bytes() == network_bytes
    # without --out the metrics go into the run directory, beside everything else, which stays as it was
    run_cli(evaluate, capsys, ok=True)
    assert added_only(run_digest, tree_digest(run)) == ["evaluation", "evaluation/metrics.json",
                                                        "evaluation/metrics.txt"]

    samples_digest = tree_digest(samples)
    run_cli(["convert", samples / "samples.npy", "--out", tmp_path / "images"], capsys, ok=True)
    assert tree_digest(samples) == samples_digest
    assert len(list((tmp_path / "images" / "samples_images").glob("*.png"))) == 3
    # without --out the images go next to the array, which is not changed
    run_cli(["convert", samples / "samples.npy", "--mode", "grid"], capsys, ok=True)
    assert added_only(samples_digest, tree_digest(samples)) == ["samples_grid.png"]

    run_cli(["train", "--resume", run, "--epochs", "3", "--quiet"], capsys, ok=True)
    assert tree_digest(data) == data_digest and tree_digest(source) == source_digest
    assert epoch_numbers(run) == [1, 2, 3]


def test_a_data_set_is_replaced_only_with_overwrite_and_a_failed_replacement_keeps_the_old(workspace, tmp_path,
                                                                                           capsys):
    source, data, _ = workspace
    before = tree_digest(data)
    code, _, err = run_cli(["prepare", source, "--out", data], capsys)
    assert_refused(code, err, "already holds a data set", "--overwrite")
    assert tree_digest(data) == before
    only_bad = write_files(tmp_path / "only_bad", {"notes.wav": "not audio"})
    code, _, err = run_cli(["prepare", only_bad, "--out", data, "--overwrite"], capsys)
    assert_refused(code, err, "no example could be made", one_line=False)
    assert tree_digest(data) == before  # the failed run was written aside and thrown away
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.startswith(".")) == []
    run_cli(["prepare", source, "--out", data, "--overwrite", "--image-size", "16"], capsys, ok=True)
    assert SpectrogramDataset.open(data).shape == (16, 16)


def test_a_demo_and_an_evaluation_are_replaced_only_with_overwrite(workspace, tmp_path, capsys):
    _, data, run = workspace
    demo = write_files(tmp_path / "demo", {"mine.txt": "mine"})
    demo_before = tree_digest(demo)
    code, _, err = run_cli(["demo", "--out", demo, "--minutes", "0.1", "--device", "cpu"], capsys)
    assert code == 2 and "--overwrite" in err
    assert tree_digest(demo) == demo_before

    out = tmp_path / "evaluation"
    evaluate = ["evaluate", run, "--data", data, "--inception", feature_network(tmp_path / "net.pt"),
                "--metrics", "fid", "--n", "8", "--out", out]
    assert run_cli(evaluate, capsys)[0] == 0
    before = tree_digest(out)
    code, _, err = run_cli([*evaluate, "--seed", "1"], capsys)
    assert code == 2 and "metrics.json" in err and "--overwrite" in err
    assert tree_digest(out) == before
    assert run_cli([*evaluate, "--seed", "1", "--overwrite"], capsys)[0] == 0
    assert json.loads((out / "metrics.json").read_text())["seed"] == 1


@pytest.mark.slow  # a training process of its own
def test_statistics_rows_survive_a_sigkill(workspace, tmp_path):
    _, data, _ = workspace
    run, log = tmp_path / "killed", tmp_path / "train.log"
    done = 3
    settings = ["--set", "output.log_every=1", "--set", "output.checkpoint_every=100"]
    process = start_cli(train_args(data, run, *settings, epochs=20), log)
    table = CsvLog(run / "epochs_statistics" / "epoch_statistics.csv")
    wait_until(lambda: len(table.rows()) >= done, process, log, f"{done} epoch rows")  # rows() skips a partial one
    kill_hard(process)
    header, rows = csv_table(run / "epochs_statistics" / "epoch_statistics.csv")
    assert len(rows) >= done and epoch_numbers(run) == list(range(1, len(rows) + 1))
    for row in rows:  # every finished row is whole: no empty loss cells
        assert all(row[header.index(key)] != "" for key in ("loss_g", "loss_d", "seconds"))
    for epoch in range(1, len(rows) + 1):
        iterations = csv_table(run / "single_epochs_statistics" / f"epoch_{epoch}" / f"epoch_{epoch}_iterations.csv")
        assert len(iterations[1]) == 6  # every step of a finished epoch
    check_run_files(run)
