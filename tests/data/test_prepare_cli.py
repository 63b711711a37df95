"""`spectrogen prepare` on the command line: summary printed, exit code 2 with a message, no traceback."""

import json

from spectrogen.cli.main import main
from spectrogen.data import SpectrogramDataset
from spectrogen.data.prepare import show_progress

from common import write_tone


def run(*argv):
    return main(["prepare", *map(str, argv)])


def test_prepare_prints_the_summary_with_skipped_files(audio_folder, tmp_path, capsys):
    assert run(audio_folder, "--out", tmp_path / "data") == 0
    out = capsys.readouterr().out
    assert "8 found, 5 read, 4 used, 4 skipped" in out
    assert "low/notes.wav: not an audio file" in out and "high/silence.wav: silent" in out
    assert "classes (files -> examples): high 2 -> 2, low 2 -> 3" in out


def test_representation_flags_reach_the_representation(tmp_path, capsys):
    write_tone(tmp_path / "src" / "x.wav", 500.0, 1.0, 8000)
    code = run(tmp_path / "src", "--out", tmp_path / "data", "--representation", "mel", "--sample-rate", 8000,
               "--n-fft", 256, "--hop", 64, "--n-mels", 32, "--frames", 32, "--quiet")
    assert code == 0 and "prepared" in capsys.readouterr().out
    data = SpectrogramDataset.open(tmp_path / "data")
    rep = data.representation
    assert (rep.sample_rate, rep.n_fft, rep.hop_length, rep.n_mels, rep.frames) == (8000, 256, 64, 32, 32)
    assert data.features.shape == (4, 32, 32)  # 8000 samples in windows of 32 * 64 = 2048: 3 full + tail


def test_silence_can_be_turned_off(tmp_path):
    write_tone(tmp_path / "src" / "x.wav", 500.0, 1.1, 16000, amplitude=0.0)
    assert run(tmp_path / "src", "--out", tmp_path / "data", "--silence-db", "off", "--quiet") == 0


def test_progress_bar_only_on_a_terminal_outside_ci(monkeypatch):
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    monkeypatch.delenv("CI", raising=False)
    assert show_progress(quiet=False) and not show_progress(quiet=True)
    monkeypatch.setenv("CI", "true")
    assert not show_progress(quiet=False)
    monkeypatch.delenv("CI")
    monkeypatch.setattr("sys.stderr.isatty", lambda: False, raising=False)
    assert not show_progress(quiet=False)


def test_workers_flag_is_taken_and_a_negative_count_refused(audio_folder, tmp_path):
    # the same data set with workers: test_prepare_threads.py
    assert run(audio_folder, "--out", tmp_path / "a", "--workers", 2, "--quiet") == 0
    assert run(audio_folder, "--out", tmp_path / "b", "--workers", -2) == 2


def test_files_of_other_types_are_counted_and_audio_ones_get_a_conversion_hint(tmp_path, capsys):
    write_tone(tmp_path / "src" / "tone.wav", 500.0, 1.2, 16000)
    (tmp_path / "src" / "phone.m4a").write_bytes(b"\x00\x00\x00\x20ftypM4A ")  # not read, only counted
    (tmp_path / "src" / "README.txt").write_text("recorded in the garage\n")
    assert run(tmp_path / "src", "--out", tmp_path / "data") == 0
    out = capsys.readouterr().out
    assert "ignored (not audio files): 1 .m4a file, 1 .txt file" in out
    assert "ffmpeg -i in.m4a out.wav" in out
    assert json.loads((tmp_path / "data" / "summary.json").read_text())["ignored"] == {".m4a": 1, ".txt": 1}


def test_a_folder_of_unreadable_audio_formats_says_what_it_holds_and_how_to_convert(tmp_path, capsys):
    for name in ("a.m4a", "b.m4a", "notes.txt"):
        (tmp_path / "src" / name).parent.mkdir(exist_ok=True)
        (tmp_path / "src" / name).write_bytes(b"x")
    assert run(tmp_path / "src", "--out", tmp_path / "data") == 2
    error = capsys.readouterr().err
    assert "2 .m4a files, 1 .txt file" in error and "ffmpeg -i in.m4a out.wav" in error
    assert not (tmp_path / "data").exists()
