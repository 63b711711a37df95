"""Checkpoint files: atomic writes, safe loading of files from others, random states, resume choice."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest
import torch

from spectrogen.errors import CheckpointError
from spectrogen.training import checkpoint as ckpt


def make_checkpoint(epoch: int = 1, model: str = "dcgan", step_in_epoch: int = 0) -> dict:
    return ckpt.build_checkpoint(
        model=model, config={"model": {"name": model}}, data={"shape": [1, 8, 8], "class_names": []},
        method={"networks": {"generator": {"weight": torch.arange(6.0).reshape(2, 3)}}},
        trainer={"epoch": epoch, "global_step": 10 * epoch, "step_in_epoch": step_in_epoch})


def test_saved_checkpoint_loads_back_with_weights_only(tmp_path):
    path = ckpt.save_checkpoint(make_checkpoint(3), tmp_path / "checkpoints" / "checkpoint_epoch_3.tar")
    loaded = ckpt.load_checkpoint(path, model="dcgan")
    assert loaded["format"] == ckpt.FORMAT and loaded["format_version"] == ckpt.FORMAT_VERSION
    assert torch.equal(loaded["method"]["networks"]["generator"]["weight"], torch.arange(6.0).reshape(2, 3))
    assert ckpt.progress_of(loaded) == (3, 0)
    assert list(path.parent.iterdir()) == [path]  # no temporary file is left behind


def test_crash_while_writing_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = ckpt.save_checkpoint(make_checkpoint(1), tmp_path / "final_model.tar")
    good = path.read_bytes()

    def crash_halfway(obj, handle):
        handle.write(b"PK\x03\x04 half a zip file")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash_halfway)
    with pytest.raises(OSError):
        ckpt.save_checkpoint(make_checkpoint(2), path)
    assert path.read_bytes() == good
    assert ckpt.progress_of(ckpt.load_checkpoint(path)) == (1, 0)


def test_leftover_temporary_file_from_a_killed_write_does_not_shadow_the_good_one(tmp_path):
    folder = tmp_path / "run" / "checkpoints"
    ckpt.save_checkpoint(make_checkpoint(4), folder / "checkpoint_epoch_4.tar")
    # what a SIGKILL during the write of epoch 5 leaves: a partial temporary file only
    (folder / ".checkpoint_epoch_5.tar.1234.tmp").write_bytes(b"PK\x03\x04 truncated")
    chosen = ckpt.find_resume_checkpoint(tmp_path / "run")
    assert chosen.name == "checkpoint_epoch_4.tar"
    assert ckpt.progress_of(ckpt.load_checkpoint(chosen)) == (4, 0)


def test_checkpoint_of_another_model_is_refused(tmp_path):
    path = ckpt.save_checkpoint(make_checkpoint(1, model="diffusion"), tmp_path / "diffusion.tar")
    with pytest.raises(CheckpointError, match="holds a diffusion model, not specgan"):
        ckpt.load_checkpoint(path, model="specgan")


def test_random_states_round_trip_through_a_weights_only_file(tmp_path):
    torch.manual_seed(1), np.random.seed(2), random.seed(3)
    torch.randn(5), np.random.randn(), random.random(), np.random.normal()  # leave cached gaussian state
    path = ckpt.save_checkpoint(dict(make_checkpoint(), rng=ckpt.rng_state()), tmp_path / "rng.tar")
    expected = (torch.randn(4), np.random.randn(4), [random.random() for _ in range(4)])
    torch.manual_seed(99), np.random.seed(99), random.seed(99)
    ckpt.set_rng_state(ckpt.load_checkpoint(path)["rng"])
    again = (torch.randn(4), np.random.randn(4), [random.random() for _ in range(4)])
    assert torch.equal(expected[0], again[0])
    assert np.array_equal(expected[1], again[1])
    assert expected[2] == again[2]


def test_rolling_buffer_keeps_the_newest_and_resume_prefers_the_most_progress(tmp_path):
    folder = tmp_path / "run" / "checkpoints"
    for epoch in (1, 2, 3, 10):
        ckpt.save_checkpoint(make_checkpoint(epoch), folder / f"checkpoint_epoch_{epoch}.tar")
    deleted = ckpt.prune_rolling(folder, keep=2)
    assert sorted(p.name for p in deleted) == ["checkpoint_epoch_1.tar", "checkpoint_epoch_2.tar"]
    assert [p.name for p in ckpt.rolling_checkpoints(folder)] == ["checkpoint_epoch_3.tar", "checkpoint_epoch_10.tar"]
    assert ckpt.find_resume_checkpoint(tmp_path / "run").name == "checkpoint_epoch_10.tar"
    # an interrupted run's final_model.tar is ahead of its last rolling checkpoint
    ckpt.save_checkpoint(make_checkpoint(10, step_in_epoch=3), folder / "final_model.tar")
    assert ckpt.find_resume_checkpoint(tmp_path / "run").name == "final_model.tar"


def test_publish_copy_survives_deletion_of_its_source(tmp_path):
    source = ckpt.save_checkpoint(make_checkpoint(2), tmp_path / "checkpoint_epoch_2.tar")
    ckpt.publish_copy(source, tmp_path / "best_model.tar")
    os.remove(source)
    assert ckpt.progress_of(ckpt.load_checkpoint(tmp_path / "best_model.tar")) == (2, 0)


def test_resume_from_a_run_without_checkpoints_says_what_to_do(tmp_path):
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    with pytest.raises(CheckpointError, match="--overwrite"):
        ckpt.find_resume_checkpoint(tmp_path / "run")


def test_a_format_1_gan_checkpoint_loads_with_the_transposed_convolutions_it_trained_with(tmp_path):
    # before format 2 every GAN generator upsampled by transposed convolutions and the config did not say so
    old = ckpt.build_checkpoint(model="specgan", config={"model": {"name": "specgan"}}, data={}, method={}, trainer={})
    old["format_version"] = 1
    path = ckpt.save_checkpoint(old, tmp_path / "old.tar")
    assert ckpt.load_checkpoint(path)["config"]["model"]["upsample"] == "transposed"
    new = ckpt.build_checkpoint(model="specgan", config={"model": {"name": "specgan", "upsample": "nearest"}},
                                data={}, method={}, trainer={})
    path = ckpt.save_checkpoint(new, tmp_path / "new.tar")
    assert ckpt.load_checkpoint(path)["config"]["model"]["upsample"] == "nearest"
