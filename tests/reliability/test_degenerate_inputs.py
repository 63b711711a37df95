"""Degenerate and absurd inputs end in one clear line or a skipped-and-listed file, never a traceback: PNGs one
pixel high or wide or over PIL's bomb limit, NaN or infinite recordings, sizes `prepare` refuses before reading."""

import csv
import importlib
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PIL import Image

from spectrogen.data.options import (MAX_EXAMPLE_BINS, MAX_EXAMPLE_SAMPLES, SIZE_LIMITS, check_example_size,
                                     check_size_settings)
from spectrogen.data.pipelines import batch_windows
from spectrogen.spectral.representation import PRESETS, Representation

from common import assert_refused, run_cli, write_tone, write_tones
from reliability_helpers import assert_skipped, new_folder, prepare_and_read_summary

pytestmark = pytest.mark.bad_input


# --- PNG images ------------------------------------------------------------------------------------
def write_gray(path: Path, height: int, width: int, seed: int) -> Path:
    """Writes an 8-bit grayscale PNG of random pixels; returns its path."""
    pixels = (np.random.default_rng(seed).random((height, width)) * 255).astype(np.uint8)
    Image.fromarray(pixels, "L").save(path)
    return path


def write_black_png(path: Path, width: int, height: int) -> Path:
    """Writes a valid 1-bit grayscale PNG of `width` x `height` black pixels, streamed row by row."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = bytes(1 + (width + 7) // 8)  # filter byte 0, then the packed pixels
    compressor = zlib.compressobj(9)
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, grayscale, no interlace
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))
    return path


def test_prepare_skips_one_pixel_and_oversized_pngs_and_prepares_the_rest(tmp_path, capsys):
    source = new_folder(tmp_path / "png")
    for index in range(3):
        write_gray(source / f"good_{index}.png", 32, 32, seed=index)
    write_gray(source / "one_high.png", 1, 32, seed=10)
    write_gray(source / "one_wide.png", 32, 1, seed=11)
    bomb = write_black_png(source / "bomb.png", 20000, 20000)
    assert bomb.stat().st_size < 100_000  # PIL refuses to open it: 4 * 10^8 pixels

    summary, printed = prepare_and_read_summary(source, tmp_path / "data", capsys)
    assert_skipped(summary, printed, {"one_high.png": "degenerate image: 1 x 32 pixels",
                                      "one_wide.png": "degenerate image: 32 x 1 pixels",
                                      "bomb.png": "too large to decode safely"})
    assert summary["files_used"] == 3 and summary["shape"] == [3, 32, 32]


def test_prepare_skips_a_png_over_a_lowered_pixel_limit(tmp_path, capsys, monkeypatch):
    # above the limit but below twice it PIL only warns, and would decode the image
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1500)
    source = new_folder(tmp_path / "png")
    for index in range(2):
        write_gray(source / f"good_{index}.png", 32, 32, seed=index)
    write_gray(source / "large.png", 40, 40, seed=5)  # 1600 pixels

    summary, printed = prepare_and_read_summary(source, tmp_path / "data", capsys)
    assert_skipped(summary, printed, {"large.png": "too large to decode safely: 40 x 40 pixels is over the limit "
                                                   "of 1500"})
    assert summary["files_used"] == 2


@pytest.mark.parametrize("height, width, extra", [(1, 32, []), (1, 32, ["--image-size", "32"]), (32, 1, [])])
def test_prepare_refuses_a_folder_of_only_degenerate_pngs(tmp_path, capsys, height, width, extra):
    source = new_folder(tmp_path / "png")
    write_gray(source / "thin.png", height, width, seed=0)
    code, _, err = run_cli(["prepare", source, "--out", tmp_path / "data", *extra], capsys)
    assert_refused(code, err, "thin.png", f"degenerate image: {height} x {width} pixels", alone=True)
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


def test_reconstruct_skips_recordings_with_nan_or_infinite_samples(autoencoder_run, tmp_path, capsys):
    source = tmp_path / "audio"
    write_tone(source / "good.wav", sample_rate=8000, seconds=0.6)
    write_damaged(source / "nan.wav", np.nan, seed=1)
    write_damaged(source / "inf.wav", np.inf, seed=2)
    out = tmp_path / "out"
    code, printed, err = run_cli(["reconstruct", autoencoder_run["checkpoint"], source, "--out", out,
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
def test_reconstruct_refuses_when_every_recording_is_damaged(autoencoder_run, tmp_path, capsys, value):
    source = write_damaged(tmp_path / "damaged.wav", value, seed=3)
    code, _, err = run_cli(["reconstruct", autoencoder_run["checkpoint"], source, "--out", tmp_path / "out", "--quiet"],
                           capsys)
    assert_refused(code, err, "damaged.wav", "holds NaN or infinite samples", alone=True)


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
    assert_refused(code, err, message, alone=True)
    assert not (tmp_path / "data").exists()


def test_the_largest_sizes_of_every_preset_are_accepted():
    largest = {field: high for field, (_, _, high) in SIZE_LIMITS.items() if field not in ("n_fft", "image_size")}
    check_size_settings({**largest, "n_fft": 65536, "image_size": [2048, 2048]})
    for name in PRESETS:
        representation = Representation.preset(name, frames=SIZE_LIMITS["frames"][2])
        check_example_size(representation)
        assert batch_windows(representation) >= 1
        assert batch_windows(Representation.preset(name)) == 64  # the presets' batches are unchanged


def test_help_states_the_bounds_that_prepare_enforces(capsys):
    _, printed, _ = run_cli(["prepare", "--help"], capsys, ok=True)
    for field, (flag, low, high) in SIZE_LIMITS.items():
        entry = re.search(rf"^  {flag} .*?(?=^  -|^\S|\Z)", printed, re.S | re.M)
        assert entry and f"{low} to {high}" in " ".join(entry.group().split()), flag
    text = " ".join(printed.split())
    assert f"{MAX_EXAMPLE_SAMPLES} samples" in text and f"{MAX_EXAMPLE_BINS} STFT values" in text
