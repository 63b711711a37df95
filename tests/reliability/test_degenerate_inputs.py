"""Degenerate and absurd inputs end in a clear message or a skipped-and-listed file, never a traceback.

* `prepare` skips PNG images one pixel high or wide and images over PIL's decompression-bomb limit
  (a real 20000 x 20000 PNG of 48 KB, and one over a lowered limit), lists them with the reason
  and prepares the rest of the folder; a folder of only such images is refused (exit code 2);
* `reconstruct` skips float recordings holding NaN or infinite samples as `prepare` does, and
  refuses (exit code 2, naming them) when no other file is left;
* `prepare` refuses absurd sizes (--image-size, --n-fft, --frames, --n-mels, --sample-rate, and
  examples too long or too large in total) before reading any file, naming the flag, the value
  and the allowed range, which --help states.
"""

from __future__ import annotations

import csv
import importlib
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PIL import Image

from reliability_helpers import run_cli, write_tone, write_tones

pytestmark = pytest.mark.bad_input

#: a representation small enough to train an autoencoder on in seconds: 16 mel bands x 32 frames
TINY_REPRESENTATION = {"sample_rate": 8000, "n_fft": 128, "hop_length": 64, "n_mels": 16, "frames": 32}


def assert_refused(code: int, err: str, *expected: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    for text in expected:
        assert text in err, f"{text!r} not in {err!r}"


# --- PNG images ------------------------------------------------------------------------------------
def write_gray(path: Path, height: int, width: int, seed: int) -> Path:
    """Writes an 8-bit grayscale PNG of random pixels; returns its path."""
    pixels = (np.random.default_rng(seed).random((height, width)) * 255).astype(np.uint8)
    Image.fromarray(pixels, "L").save(path)
    return path


def write_black_png(path: Path, width: int, height: int) -> Path:
    """Writes a valid 1-bit grayscale PNG of `width` x `height` black pixels, streamed (48 KB at 20000 x 20000)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = bytes(1 + (width + 7) // 8)  # filter byte 0, then the packed pixels
    compressor = zlib.compressobj(9)
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, grayscale, no interlace
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))
    return path


def prepare_summary(source: Path, out: Path, capsys) -> tuple[dict, str]:
    """Returns (summary.json, printed summary) of a `prepare` run that must succeed."""
    code, printed, err = run_cli(["prepare", source, "--out", out], capsys)
    assert code == 0 and "Traceback" not in err, err
    return json.loads((out / "summary.json").read_text()), printed


def test_prepare_skips_one_pixel_and_oversized_pngs_and_prepares_the_rest(tmp_path, capsys):
    source = tmp_path / "png"
    source.mkdir()
    for index in range(3):
        write_gray(source / f"good_{index}.png", 32, 32, seed=index)
    write_gray(source / "one_high.png", 1, 32, seed=10)
    write_gray(source / "one_wide.png", 32, 1, seed=11)
    bomb = write_black_png(source / "bomb.png", 20000, 20000)
    assert bomb.stat().st_size < 100_000  # PIL refuses to open it: 4 * 10^8 pixels

    summary, printed = prepare_summary(source, tmp_path / "data", capsys)
    skipped = {entry["file"]: entry["reason"] for entry in summary["skipped"]}
    assert set(skipped) == {"one_high.png", "one_wide.png", "bomb.png"}, skipped
    assert "degenerate image: 1 x 32 pixels" in skipped["one_high.png"]
    assert "degenerate image: 32 x 1 pixels" in skipped["one_wide.png"]
    assert "too large to decode safely" in skipped["bomb.png"]
    for name, reason in skipped.items():
        assert f"{name}: {reason}" in printed
    assert summary["files_used"] == 3 and summary["shape"] == [3, 32, 32]


def test_prepare_skips_a_png_over_a_lowered_pixel_limit(tmp_path, capsys, monkeypatch):
    # above the limit but below twice it PIL only warns, and would decode the image
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1500)
    source = tmp_path / "png"
    source.mkdir()
    for index in range(2):
        write_gray(source / f"good_{index}.png", 32, 32, seed=index)
    write_gray(source / "large.png", 40, 40, seed=5)  # 1600 pixels

    summary, printed = prepare_summary(source, tmp_path / "data", capsys)
    assert [entry["file"] for entry in summary["skipped"]] == ["large.png"]
    assert "too large to decode safely: 40 x 40 pixels is over the limit of 1500" in printed
    assert summary["files_used"] == 2


@pytest.mark.parametrize("height, width, extra", [(1, 32, []), (1, 32, ["--image-size", "32"]), (32, 1, [])])
def test_prepare_refuses_a_folder_of_only_degenerate_pngs(tmp_path, capsys, height, width, extra):
    source = tmp_path / "png"
    source.mkdir()
    write_gray(source / "thin.png", height, width, seed=0)
    code, _, err = run_cli(["prepare", source, "--out", tmp_path / "data", *extra], capsys)
    assert_refused(code, err, "thin.png", f"degenerate image: {height} x {width} pixels")
    assert not (tmp_path / "data").exists()


# --- reconstruct and non-finite recordings ----------------------------------------------------------
def write_damaged(path: Path, value: float, seed: int) -> Path:
    """Writes a float wav of a noisy tone at 8 kHz with `value` (NaN or infinity) at a few random samples."""
    rng = np.random.default_rng(seed)
    t = np.arange(8000) / 8000
    audio = (0.4 * np.sin(2 * np.pi * 440 * t) + 0.01 * rng.standard_normal(len(t))).astype(np.float32)
    audio[rng.choice(len(audio), 3, replace=False)] = value
    soundfile.write(str(path), audio, 8000, subtype="FLOAT")
    return path


@pytest.fixture(scope="module")
def autoencoder_checkpoint(tmp_path_factory) -> Path:
    """Returns the final checkpoint of a tiny autoencoder trained for a few steps on tones."""
    import torch

    from spectrogen.config import build_config
    from spectrogen.data.prepare import prepare
    from spectrogen.training.api import train

    root = tmp_path_factory.mktemp("autoencoder")
    audio = root / "audio"
    for index in range(4):
        write_tone(audio / f"tone_{index}.wav", sample_rate=8000, seconds=1.0, frequency=300.0 + 150.0 * index)
    prepare(audio, root / "data", representation="autoencoder", settings=TINY_REPRESENTATION, quiet=True)
    config = build_config({
        "data": {"path": str(root / "data"), "normalization": "per_frequency", "validation_fraction": 0.25},
        "model": {"name": "autoencoder", "image_size": 16, "image_width": 32, "latent_dim": 8,
                  "autoencoder": {"hidden_channels": 8, "blocks": 2}},
        "training": {"epochs": 1, "batch_size": 4, "device": "cpu", "seed": 0},
        "output": {"output_dir": str(root / "run"), "plot_every": 100, "num_samples": 4, "report": False,
                   "griffin_lim_iterations": 2},
    })
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run = train(config, quiet=True)
    finally:
        torch.set_num_threads(threads)
    return run / "checkpoints" / "final_model.tar"


def test_reconstruct_skips_recordings_with_nan_or_infinite_samples(autoencoder_checkpoint, tmp_path, capsys):
    source = tmp_path / "audio"
    write_tone(source / "good.wav", sample_rate=8000, seconds=0.6)
    write_damaged(source / "nan.wav", np.nan, seed=1)
    write_damaged(source / "inf.wav", np.inf, seed=2)
    out = tmp_path / "out"
    code, printed, err = run_cli(["reconstruct", autoencoder_checkpoint, source, "--out", out,
                                  "--griffin-lim-iters", "2", "--quiet"], capsys)
    assert code == 0 and "Traceback" not in err, err
    for name in ("nan.wav", "inf.wav"):
        assert f"skipped {name}: holds NaN or infinite samples" in err
    with open(out / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["input"] for row in rows] == ["good.wav"]
    assert all(np.isfinite(float(value)) for key, value in rows[0].items() if key != "input" and value)
    assert not (out / "nan_reconstructed.wav").exists()


@pytest.mark.parametrize("value", [np.nan, -np.inf])
def test_reconstruct_refuses_when_every_recording_is_damaged(autoencoder_checkpoint, tmp_path, capsys, value):
    source = write_damaged(tmp_path / "damaged.wav", value, seed=3)
    code, _, err = run_cli(["reconstruct", autoencoder_checkpoint, source, "--out", tmp_path / "out", "--quiet"],
                           capsys)
    assert_refused(code, err, "damaged.wav", "holds NaN or infinite samples")


# --- sizes ----------------------------------------------------------------------------------------
SIZE_CASES = [
    (["--image-size", "100000"], "--image-size 100000x100000: out of range, use 1 to 2048 for each side"),
    (["--image-size", "64x4096"], "--image-size 64x4096: out of range, use 1 to 2048 for each side"),
    (["--n-fft", "1000000000"], "--n-fft 1000000000: out of range, use 2 to 65536"),
    (["--frames", "100000000"], "--frames 100000000: out of range, use 1 to 16384"),
    (["--representation", "mel", "--n-mels", "1000000000"], "--n-mels 1000000000: out of range, use 1 to 2048"),
    (["--sample-rate", "1000000000000"], "--sample-rate 1000000000000: out of range, use 1 to 768000"),
    (["--n-fft", "65536", "--hop", "65536", "--frames", "16384"],
     "--frames 16384 x --hop 65536 = 1073741824 samples per example"),
    (["--n-fft", "65536", "--frames", "1024"], "--n-fft 65536 (32769 frequency rows) x --frames 1024"),
]


@pytest.mark.parametrize("flags, message", SIZE_CASES, ids=[" ".join(flags) for flags, _ in SIZE_CASES])
def test_prepare_refuses_absurd_sizes_before_reading_any_file(tmp_path, capsys, monkeypatch, flags, message):
    def no_reading(*args, **kwargs):
        raise AssertionError("prepare read files before refusing the size")

    monkeypatch.setattr(importlib.import_module("spectrogen.data.prepare"), "audio_examples", no_reading)
    source = write_tones(tmp_path / "recordings", count=2)
    code, _, err = run_cli(["prepare", source, "--out", tmp_path / "data", *flags], capsys)
    assert_refused(code, err, message)
    assert not (tmp_path / "data").exists()


def test_the_largest_sizes_of_every_preset_are_accepted():
    from spectrogen.data.options import SIZE_LIMITS, check_example_size, check_size_settings
    from spectrogen.data.pipelines import batch_windows
    from spectrogen.spectral.representation import PRESETS, Representation

    largest = {field: high for field, (_, _, high) in SIZE_LIMITS.items() if field not in ("n_fft", "image_size")}
    check_size_settings({**largest, "n_fft": 65536, "image_size": [2048, 2048]})
    for name in PRESETS:
        representation = Representation.preset(name, frames=SIZE_LIMITS["frames"][2])
        check_example_size(representation)
        assert batch_windows(representation) >= 1
        assert batch_windows(Representation.preset(name)) == 64  # the presets' batches are unchanged


def test_help_states_the_bounds(capsys):
    code, printed, _ = run_cli(["prepare", "--help"], capsys)
    assert code == 0
    text = " ".join(printed.split())
    for expected in ("--sample-rate HZ 1 to 768000", "2 to 65536", "mel bands, 1 to 2048", "1 to 16384",
                     "each side 1 to 2048", "8388608 samples", "16777216 STFT values"):
        assert expected in text, expected
