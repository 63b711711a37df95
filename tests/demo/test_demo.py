"""`spectrogen demo`: data, a time-bounded run, samples with sound, the report, and where to look."""

import json
import shlex

import pytest
import soundfile

from spectrogen import demo
from spectrogen.cli.main import main
from spectrogen.errors import OverwriteError
from spectrogen.training.checkpoint import load_checkpoint
from spectrogen.training.summary import minutes_text, resume_command

TINY = {**demo.TRAINING_SETTINGS, "model.image_size": 32, "model.features_g": 4, "model.features_d": 4,
        "training.batch_size": 4, "training.epochs": 2, "output.num_samples": 4}


@pytest.fixture
def tiny_demo(monkeypatch):
    """Shrinks the demo to seconds: 2 clips per engine type, 32x32, width 4, 4 samples."""
    for name, value in {"CLIPS_PER_CLASS": 2, "IMAGE_SIZE": 32, "NUM_SAMPLES": 4, "TRAINING_SETTINGS": TINY}.items():
        monkeypatch.setattr(demo, name, value)


@pytest.mark.parametrize("model", demo.DEMO_MODELS)
def test_the_demo_keeps_its_settings_and_records_where_each_comes_from(tmp_path, model):
    config = demo.demo_config(tmp_path / "data", tmp_path / "run", model=model, minutes=demo.DEFAULT_MINUTES,
                              device="auto")
    # the settings the demo's promised figures were measured with (README.md, benchmarks/README.md)
    m, t, o = config.model, config.training, config.output
    assert (config.name, m.name, m.conditional.base, m.conditional.discriminator_input) == \
        ("test", model, "specgan", "label_map")
    assert (m.image_size, m.image_width, m.features_g, m.features_d, m.latent_dim, m.batchnorm, m.upsample,
            m.latent_distribution) == (demo.IMAGE_SIZE, None, 16, 16, 100, True, "nearest", "uniform")
    assert (t.epochs, t.batch_size, t.loss, t.critic_steps, t.learning_rate, t.learning_rate_d, t.beta1, t.beta2,
            t.ema_decay, t.diffaugment, t.mode_seeking, t.max_minutes) == \
        (200, 16, "hinge", 1, 2e-4, 2e-4, 0.5, 0.9, 0.99, [], {"specgan": 2.0, "cgan": 4.0}[model], 8.0)
    assert (o.num_samples, o.sample_every, o.plot_every, o.checkpoint_every, o.log_every, o.report) == \
        (demo.NUM_SAMPLES, 1, 10, 5, 8, True)
    assert list(config.resolved_from) == ["preset test", "demo", f"demo {model}", "overrides", "family specgan"]


def test_demo_writes_data_run_report_and_samples_and_says_where(tmp_path, tiny_demo, capsys, listen):
    out = tmp_path / "demo"
    assert main(["demo", "--output-dir", str(out), "--minutes", "5", "--device", "cpu", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert (out / "data" / "dataset.json").is_file()
    report = out / "run" / "report.html"
    assert report.is_file() and str(report) in printed
    wavs = sorted((out / "samples").glob("*.wav"))
    assert [w.name for w in wavs] == [f"sample_{i:02d}.wav" for i in range(1, 5)]
    audio, rate = soundfile.read(wavs[0])
    assert rate == 16000 and len(audio) == 16384
    # every clip the demo writes is sound a listener hears, not a click over silence: no louder at
    # its edges than in its body, at a level near the engines' (measured: benchmarks/README.md)
    written = wavs + sorted((out / "run" / "report_audio").glob("*.wav"))
    for path in written:
        level, edge_over_body = listen(path)
        assert edge_over_body <= 1.5 and level > -45, (path.name, level, edge_over_body)
    real = [listen(path)[0] for path in written if path.name.startswith("real_")]
    assert real and min(real) > -30, real
    assert (out / "samples" / "grid.png").is_file()
    assert len(list((out / "run" / "report_audio").glob("sample_*.wav"))) == 4
    record = json.loads((out / "demo.json").read_text())
    assert record["epochs_done"] == record["epochs_planned"] == 2
    assert set(record["seconds"]) == {"prepare", "train", "sample", "evaluate", "report", "total"}
    assert f"spectrogen train --resume {out / 'run'}" in printed  # the next commands name the demo's paths
    # one story: the epochs, the time trained and the resume command agree in the console, demo.json and the report
    page = report.read_text(encoding="utf-8")
    trained = minutes_text(record["trained_seconds"])
    assert f"trained 2 of 2 epochs in {trained}" in printed
    assert "<th>epochs completed</th><td>2 of 2</td>" in page and f"<td>{trained}</td>" in page
    assert record["resume"] in printed and record["resume"] in page
    assert record["steps_done"] == record["steps_planned"] > 0 and record["stopped_by"] is None
    # the demo judged its samples: figures, targets and a verdict (8 clips are too few to judge by)
    assert "verdict:" in printed and record["evaluation"]["verdict"] in printed


def test_time_limit_ends_training_with_a_resumable_checkpoint_and_still_samples(tmp_path, tiny_demo, monkeypatch):
    monkeypatch.setattr(demo, "TRAINING_SETTINGS", {**TINY, "training.epochs": 1000})
    lines: list[str] = []
    result = demo.run_demo(tmp_path / "demo", minutes=0.002, model="cgan", device="cpu", quiet=True,
                           log=lines.append)
    assert result.progress.epochs_done < result.progress.epochs_planned == 1000
    checkpoint = load_checkpoint(result.run / "checkpoints" / "final_model.tar")
    assert checkpoint["trainer"]["epoch"] == result.progress.epochs_done  # `train --resume` continues from here
    # the conditional model samples each engine type equally, named by class
    names = sorted(w.stem for w in result.wavs)
    assert names == ["diesel_01", "inline4_01", "single_01", "v8_01"]
    assert "time limit" in "\n".join(demo.summary_lines(result))
    assert result.report.is_file()
    # the safety net says plainly that it cut training too short to judge, once, with the way on
    assert result.cut_short and json.loads((result.out / "demo.json").read_text())["cut_short"] is True
    warned = [line for line in lines if line.startswith("warning: the 0.002-minute time limit")]
    assert len(warned) == 1 and "too few" in warned[0] and resume_command(result.progress) in warned[0]

    # the suggested command continues the run without the demo's time limit, as the report says
    assert resume_command(result.progress) in result.report.read_text()
    command = shlex.split(demo.next_steps(result)[0].split("#")[0])
    assert command[:3] == ["spectrogen", "train", "--resume"] and "--epochs" not in command  # to the planned 1000
    assert main(command[1:] + ["--epochs", str(result.progress.epochs_done + 2), "--quiet"]) == 0  # two more are enough
    resumed = load_checkpoint(result.run / "checkpoints" / "final_model.tar")
    assert resumed["trainer"]["epoch"] == result.progress.epochs_done + 2
    assert resumed["config"]["training"]["max_minutes"] is None


def test_overwrite_replaces_only_what_a_demo_writes(tmp_path):
    out = tmp_path / "demo"
    for folder in ("data", "run", "samples"):
        (out / folder).mkdir(parents=True)
        (out / folder / "old").write_text("from an earlier demo")
    (out / "demo.json").write_text("{}")
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OverwriteError, match="already holds a demo"):
        demo.check_out_folder(out, overwrite=False)
    demo.check_out_folder(out, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def judge(figures: dict, **extra) -> tuple[list[str], list[str]]:
    """Returns (the missed targets, the evaluation lines) of `figures` against the demo's targets for them."""
    targets = {key: demo.DEMO_TARGETS[key] for key in figures if key in demo.DEMO_TARGETS}
    missed = demo.missed_targets(figures, targets)
    return missed, demo.evaluation_lines({"figures": figures, "targets": targets,
                                          "verdict": demo.verdict(figures, missed), **extra})


def test_verdict_names_the_figure_that_misses_its_target():
    good = {"is": 3.4, "is_real": 3.7, "is_ratio": 0.92, "precision": 0.7, "recall": 0.7, "diversity_ratio": 0.9}
    assert demo.verdict(good, []).startswith("the samples resemble the engines") and judge(good)[0] == []
    missed, lines = judge({**good, "recall": 0.31})
    assert missed == ["recall"]
    assert "recall 0.31 (target >= 0.6 LOW)" in lines[1] and "precision 0.70 (target >= 0.6 ok)" in lines[1]
    assert "not yet like the engines" in lines[-1] and "recall" in lines[-1]


def test_a_checkerboard_or_silent_gaps_fail_the_verdict_however_good_the_feature_figures():
    # the classifier-free figures have upper bounds: a lattice of dots, or silence the engines do not have,
    # is named even when IS, precision and recall are at their targets
    good = {"is": 3.4, "is_real": 3.7, "is_ratio": 0.92, "precision": 0.9, "recall": 0.8, "diversity_ratio": 0.9,
            "artifact_ratio": 1.05, "artifact_ratio_real": 1.0, "level_db_distance": 1.0, "spread_db_distance": 1.0,
            "silent_frames": 0.0, "silent_frames_real": 0.0, "silent_excess": 0.0, "tonal_ratio": 0.9}
    assert judge(good)[0] == []
    missed, lines = judge({**good, "artifact_ratio": 2.6, "silent_frames": 0.3, "silent_excess": 0.3})
    assert missed == ["artifact_ratio", "silent_excess"]
    text = "\n".join(lines)
    assert "lattice of dots 2.60 (target <= 1.2 HIGH)" in text and "excess 0.30 (target <= 0.05 HIGH)" in text
    assert "lattice of dots" in lines[-1] and "silent gaps" in lines[-1]


def test_an_engine_type_the_samples_never_draw_is_named_in_the_verdict():
    # every engine type must be drawn and recognisable; here v8 never is
    figures = {"is": 3.0, "is_real": 3.7, "is_ratio": 0.81, "precision": 0.7, "recall": 0.65, "diversity_ratio": 0.9,
               "type_coverage": 0.0, "recognised": 0.95}
    missed, lines = judge(figures, types={"single": 0.34, "inline4": 0.33, "v8": 0.0, "diesel": 0.33})
    assert missed == ["type_coverage"]
    drawn = next(line for line in lines if "engine types drawn" in line)
    assert "v8 0%" in drawn and "(real: 25% each)" in drawn and "0.00 (target >= 0.5 LOW)" in drawn
    assert "0.95 (target >= 0.9 ok)" in drawn
    assert "engine type seldom or never drawn" in lines[-1]
    assert "every engine type drawn" in demo.verdict({**figures, "type_coverage": 0.8}, [])
