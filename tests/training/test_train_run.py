"""A whole training run with the tiny method: the run tree, what its files hold, learning, the dry run."""

import json

import numpy as np
import pytest
import torch

from spectrogen.api import seed_everything, train
from spectrogen.cli.main import main
from spectrogen.training.checkpoint import load_checkpoint
from spectrogen.data.info import DataInfo

from common import epoch_rows, iteration_rows
from training_helpers import TinyMethod, tiny_config, tone_features


def test_a_run_writes_exactly_the_files_of_the_spec_with_a_row_per_epoch_and_interval(tone_data, tmp_path,
                                                                                      tiny_method):
    out = tmp_path / "run"
    assert train(tiny_config(tone_data, out, {"training.epochs": 3}), quiet=True) == out
    expected = {
        "epochs_statistics/epoch_statistics.csv", "epochs_statistics/checkpoint_metrics.csv",
        "epochs_statistics/experiment_config.json",
        *(f"single_epochs_statistics/epoch_{n}/epoch_{n}_iterations.csv" for n in (1, 2, 3)),
        "samples/epoch_001.npy", "samples/epoch_002.npy", "samples/epoch_003.npy",
        "checkpoints/checkpoint_epoch_2.tar", "checkpoints/checkpoint_epoch_3.tar",  # rolling, keep 2
        "checkpoints/best_model.tar", "checkpoints/final_model.tar",
        "plots/epoch_loss_curves.png", "plots/gradient_norms.png", "plots/generated_samples_grid.png",
        "plots/convergence_analysis.png",
    }
    assert {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()} == expected
    rows = epoch_rows(out)
    assert [row["epoch"] for row in rows] == [1, 2, 3]
    for key in ("loss_g", "loss_d", "grad_norm_g", "lr_generator", "lr_critic", "seconds", "samples_per_s",
                "step_time_ms", "cpu_percent", "rss_mb", "peak_memory_mb", "nan_events", "diversity_ratio"):
        assert all(row[key] is not None for row in rows), key
    for row in rows:  # throughput and step time describe the same loop
        assert row["samples_per_s"] * row["step_time_ms"] / 1000 == pytest.approx(8, rel=1e-6)
        assert row["seconds"] >= 6 * row["step_time_ms"] / 1000
    steps = 48 // 8  # no validation split: the tiny method does not ask for one
    iterations = iteration_rows(out, 3)
    assert [row["iteration"] for row in iterations] == list(range(2, steps + 1, 2))  # output.log_every=2
    # the epoch mean is the mean of the interval means (equal-sized intervals)
    assert rows[2]["loss_g"] == pytest.approx(np.mean([row["loss_g"] for row in iterations]), rel=1e-9)
    saved = json.loads((out / "epochs_statistics" / "experiment_config.json").read_text())
    assert saved["training"]["epochs"] == 3 and saved["output"]["output_dir"] == str(out)
    checkpoint = load_checkpoint(out / "checkpoints" / "final_model.tar", model="autoencoder")
    assert checkpoint["data"]["shape"] == [1, 8, 8]
    assert checkpoint["data"]["class_names"] == ["low", "mid", "high"]
    assert checkpoint["data"]["normalizer"]["kind"] == "minmax"
    assert checkpoint["config"]["training"]["epochs"] == 3
    assert checkpoint["trainer"]["epoch"] == 3 and checkpoint["trainer"]["global_step"] == 3 * 6
    assert checkpoint["trainer"]["best"]["criterion"] == "latest"
    assert set(checkpoint["method"]["networks"]) == {"generator", "critic"}
    assert load_checkpoint(out / "checkpoints" / "best_model.tar")["trainer"]["epoch"] == 3


def test_samples_are_fixed_noise_in_the_normalised_range_and_learn_the_data(tone_data, tmp_path, tiny_method,
                                                                            quick_plots):
    config = tiny_config(tone_data, tmp_path / "run", {"training.epochs": 6, "training.batch_size": 4})
    out = train(config, quiet=True)
    trained = np.load(out / "samples" / "epoch_006.npy")
    assert trained.shape == (8, 1, 8, 8) and trained.dtype == np.float32
    assert trained.min() >= -1.0 and trained.max() <= 1.0
    seed_everything(config.training.seed)
    untrained = TinyMethod(config, DataInfo((1, 8, 8)), torch.device("cpu")).sample(
        8, generator=torch.Generator().manual_seed(0)).numpy()
    # the real data's per-frequency mean profile in the same normalised range (minmax to [-1, 1])
    features, _ = tone_features(48)
    low, high = features.min(), features.max()
    real_profile = ((features - low) * 2 / (high - low) - 1).mean(axis=(0, 2))  # (F,)

    def distance(samples):
        return float(np.abs(samples[:, 0].mean(axis=(0, 2)) - real_profile).mean())

    assert distance(trained) < 0.25 * distance(untrained)


def test_dry_run_prints_parameter_counts_and_writes_nothing(tone_data, tmp_path, tiny_method, capsys):
    out, path = tmp_path / "run", tmp_path / "tiny.json"
    path.write_text(json.dumps(tiny_config(tone_data, out).model_dump(mode="json")))
    assert main(["train", "--config", str(path), "--dry-run"]) == 0
    printed = capsys.readouterr().out
    counts = tiny_method.built[-1].parameter_counts()
    for name, count in [*counts.items(), ("total", sum(counts.values()))]:
        assert name in printed and f"{count:,}" in printed
    assert "nothing was written" in printed
    assert not out.exists()


def test_streaming_the_data_set_trains_to_the_same_numbers_as_holding_it(tone_data, tmp_path, tiny_method,
                                                                         quick_plots):
    held, streamed = tmp_path / "held", tmp_path / "streamed"
    train(tiny_config(tone_data, held, {"training.epochs": 2, "data.on_device": "always"}), quiet=True)
    train(tiny_config(tone_data, streamed, {"training.epochs": 2, "data.on_device": "never",
                                            "data.num_workers": 1}), quiet=True)
    a, b = epoch_rows(held), epoch_rows(streamed)
    # both normalise the same values elementwise (no reduction): the same batches, so the same steps
    for key in ("loss_g", "loss_d", "grad_norm_g"):
        assert [row[key] for row in a] == pytest.approx([row[key] for row in b], rel=1e-6)
