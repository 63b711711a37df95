"""`spectrogen train` errors a user can act on: exit code 2, a message naming the problem, no traceback."""

from __future__ import annotations

import json

from spectrogen.cli.main import main
from spectrogen.training.api import train

from conftest import tiny_config


def write_config(tmp_path, data, out) -> str:
    path = tmp_path / "config.json"
    raw = {"data": {"path": str(data)}, "model": {"name": "autoencoder", "image_size": 8, "image_width": 8},
           "training": {"epochs": 1, "batch_size": 8, "device": "cpu"},
           "output": {"output_dir": str(out), "report": False}}
    path.write_text(json.dumps(raw))
    return str(path)


def test_an_output_dir_holding_a_run_is_refused_with_exit_code_2(tone_data, tmp_path, tiny_method, quick_plots,
                                                                 capsys):
    out = tmp_path / "run"
    train(tiny_config(tone_data, out, {"training.epochs": 1}), quiet=True)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    capsys.readouterr()
    code = main(["train", "--config", write_config(tmp_path, tone_data, out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert "already holds a training run" in err and "--resume" in err and "--overwrite" in err
    assert "Traceback" not in err
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before  # nothing touched


def test_missing_data_set_exits_2_before_writing_anything(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--config", write_config(tmp_path, tmp_path / "no_data", out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "no_data" in err and "spectrogen prepare" in err and "Traceback" not in err
    assert not out.exists()


def test_resume_of_a_foreign_file_exits_2(tmp_path, capsys):
    foreign = tmp_path / "model.tar"
    foreign.write_text("not a checkpoint")
    assert main(["train", "--resume", str(foreign)]) == 2
    assert "model.tar" in capsys.readouterr().err
