"""What the report picks from a run: statistic groups, real examples per class, the family's own plots."""

import numpy as np

from spectrogen.report.figures import statistic_groups
from spectrogen.report.run_contents import example_indices, family_plots
from spectrogen.training.run_directory import RunDirectory


def test_statistics_are_grouped_from_whichever_columns_a_family_writes():
    gan = ["epoch", "gp", "loss_d", "d_real", "d_fake", "grad_norm_d", "loss_g", "grad_norm_g", "lr_generator",
           "lr_discriminator", "nan_events", "diversity_ratio", "collapse", "seconds", "samples_per_s"]
    groups = {title: keys for title, _, keys in statistic_groups(gan)}
    assert groups == {"Losses": ["loss_d", "loss_g"], "Critic outputs": ["d_real", "d_fake"],
                      "Gradient norms": ["grad_norm_d", "grad_norm_g"],
                      "Learning rates": ["lr_generator", "lr_discriminator"],
                      "Sample diversity": ["diversity_ratio"], "Other statistics": ["gp"]}
    groups = {title: keys for title, _, keys in statistic_groups(gan + ["mode_seeking", "class_diversity_ratio",
                                                                         "alike_class"])}
    assert groups["Mode-seeking term"] == ["mode_seeking"] and groups["Other statistics"] == ["gp"]
    assert groups["Sample diversity"] == ["diversity_ratio", "class_diversity_ratio"]  # alike_class: not a curve
    autoencoder = ["epoch", "loss", "mse", "l1", "kl", "val_loss", "val_mse", "lr_model", "seconds"]
    groups = {title: keys for title, _, keys in statistic_groups(autoencoder)}
    assert "Critic outputs" not in groups  # no empty panels
    assert groups["Losses"] == ["loss", "val_loss"]
    assert groups["Other statistics"] == ["mse", "l1", "kl", "val_mse"]


def test_real_examples_are_spread_evenly_over_the_classes_and_repeatable():
    labels = np.repeat(np.arange(4), 10)
    chosen = example_indices(labels, 4, 8)
    assert np.bincount(labels[chosen], minlength=4).tolist() == [2, 2, 2, 2]
    assert chosen == example_indices(labels, 4, 8)
    many = example_indices(np.repeat(np.arange(10), 3), 10, 8)
    assert len(set(np.repeat(np.arange(10), 3)[many])) == 8  # one each of as many classes as fit
    assert sorted(example_indices(np.zeros(5, dtype=np.int64), 0, 8)) == [0, 1, 2, 3, 4]  # unlabelled


def test_family_plots_leave_out_the_trainers_own_and_per_epoch_files(tmp_path):
    run = RunDirectory(tmp_path)
    run.plots_dir.mkdir()
    for name in ("epoch_loss_curves.png", "samples_epoch_001.png", "samples_epoch_002.png",
                 "spectrogram_comparison.png", "training_curves.png"):
        (run.plots_dir / name).write_bytes(b"png")
    assert [p.name for p in family_plots(run)] == ["spectrogram_comparison.png", "training_curves.png"]
