"""TensorBoard event files of a run: scalars every epoch, sample grid and audio at sampling epochs."""

import sys

import pytest

from spectrogen.api import train
from spectrogen.cli.main import main
from spectrogen.errors import UsageError
from spectrogen.report.tensorboard import scalar_tags, tensorboard_callback

from common import epoch_rows
from report_runs import prepare_engines, tiny_run_config

EventAccumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator",
                                       reason="no tensorboard: pip install 'spectrogen[tensorboard]'").EventAccumulator


def test_event_files_hold_scalars_images_and_audio_of_each_epoch(tmp_path):
    data = prepare_engines(tmp_path / "data", count=2)
    config = tiny_run_config(data, tmp_path / "run", training={"epochs": 3},
                             output={"tensorboard": True, "sample_every": 2, "report": False})
    run = train(config, quiet=True)
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0, "images": 0, "audio": 0})
    events.Reload()
    tags = events.Tags()
    for tag in ("losses/loss_d", "losses/loss_g", "critic/d_real", "critic/d_fake", "gradient_norms/grad_norm_d",
                "learning_rates/lr_generator", "learning_rates/lr_discriminator"):
        assert tag in tags["scalars"], tag
        assert [event.step for event in events.Scalars(tag)] == [1, 2, 3], tag
    # samples (and their diversity) come at epochs 2 and 3: sample_every=2, and always the last epoch
    assert [event.step for event in events.Scalars("diversity/diversity_ratio")] == [2, 3]
    assert tags["images"] == ["samples/grid"]
    assert [event.step for event in events.Images("samples/grid")] == [2, 3]
    assert sorted(tags["audio"]) == [f"samples/audio_{i:02d}" for i in range(1, 5)]
    clip = events.Audio("samples/audio_01")[-1]
    assert clip.sample_rate == 16000 and clip.length_frames == 16384
    # the same numbers as the CSV
    assert events.Scalars("losses/loss_d")[0].value == pytest.approx(epoch_rows(run)[0]["loss_d"], rel=1e-6)


def test_scalar_tags_group_whatever_columns_a_family_writes():
    autoencoder = {"epoch": 3, "loss": 0.5, "mse": 0.2, "val_loss": 0.6, "lr_model": 1e-3, "seconds": 2.0}
    assert scalar_tags(autoencoder) == {"losses/loss": 0.5, "losses/val_loss": 0.6, "statistics/mse": 0.2,
                                        "learning_rates/lr_model": 1e-3}


def test_missing_tensorboard_is_a_clear_error_before_anything_is_written(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # what an absent package looks like
    config = tiny_run_config(tmp_path / "data", tmp_path / "run", output={"tensorboard": True})
    with pytest.raises(UsageError, match=r"pip install 'spectrogen\[tensorboard\]'"):
        tensorboard_callback(config)
    data = prepare_engines(tmp_path / "data", count=1)
    assert main(["train", "--model", "specgan", "--data", str(data), "--image-size", "32", "--features-g", "4",
                 "--features-d", "4", "--batch-size", "4", "--device", "cpu", "--tensorboard",
                 "--output-dir", str(tmp_path / "run")]) == 2
    assert "spectrogen[tensorboard]" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
