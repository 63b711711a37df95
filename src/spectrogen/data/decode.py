"""Audio decoding (libsndfile, or ffmpeg for MUSDB18 streams) as mono float32 chunks at a sample rate, streamed in
blocks so that memory follows the block size, not the recording's length; and `SkipFile`, which a source raises for
one unusable file (`prepare` records it and goes on)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import soundfile
import soxr

from spectrogen.errors import InputError

#: source frames read per block (about 24 s at 44.1 kHz)
BLOCK_FRAMES = 1 << 20
#: libsndfile's float value of a 16-bit sample: the integer times 2^-15 (exact in float32)
_PCM_16_SCALE = np.float32(1.0 / 0x8000)


class SkipFile(Exception):
    """One file (or stream) cannot be used; `reason` says why, in words a user can act on."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def read_audio(path: Path, sample_rate: int, block_frames: int = BLOCK_FRAMES) -> Iterator[np.ndarray]:
    """Yields the file's audio as mono float32 chunks (n,) at `sample_rate`; raises SkipFile naming the problem."""
    try:
        handle = soundfile.SoundFile(str(path))
    except (RuntimeError, OSError) as exc:
        raise SkipFile(_open_failure(path, exc)) from None
    with handle:
        if handle.frames == 0:
            raise SkipFile("empty: no audio frames")
        rate, stream = handle.samplerate, None
        # 16-bit files are read as integers and scaled here: the same float32 values as libsndfile's own conversion
        # (a power-of-two scale is exact and commutes with the average), for less work
        pcm_16 = handle.subtype == "PCM_16"
        while True:
            try:
                block = handle.read(block_frames, dtype="int16" if pcm_16 else "float32", always_2d=True)  # (n, ch)
            except (RuntimeError, OSError) as exc:
                raise SkipFile(f"decoding failed after {handle.tell() / rate:.1f} s: {exc}") from None
            last = len(block) < block_frames
            # channels averaged before resampling: cheaper, and the same result since resampling is linear
            mono = to_mono(block.astype(np.float32)) * _PCM_16_SCALE if pcm_16 else to_mono(block)
            if rate != sample_rate:
                if last and stream is None:  # the whole file in one block: a one-shot resample is cheaper
                    mono = soxr.resample(mono, rate, sample_rate, quality="HQ")
                else:
                    stream = stream or soxr.ResampleStream(rate, sample_rate, 1, dtype="float32", quality="HQ")
                    mono = stream.resample_chunk(mono, last=last)
            if len(mono):
                yield mono
            if last:
                return


def finite_chunks(chunks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """Yields `chunks`; raises SkipFile at the first holding NaN or infinite samples (they would poison the moments)."""
    for chunk in chunks:  # a finite sum (one fast pass) proves every sample finite
        if not np.isfinite(chunk.sum()) and not np.isfinite(chunk).all():
            raise SkipFile("holds NaN or infinite samples (a damaged floating-point recording)")
        yield chunk


def to_mono(block: np.ndarray) -> np.ndarray:
    """Returns the channel average of `block` (n, channels) as (n,) float32."""
    if block.shape[1] == 1:
        return block[:, 0]
    # a matrix-vector product: much faster than numpy's mean over the short channel axis
    return block @ np.full(block.shape[1], 1.0 / block.shape[1], dtype=np.float32)


def _open_failure(path: Path, exc: Exception) -> str:
    """Returns a reason for a file libsndfile refused, telling an empty file from a foreign one."""
    try:
        if path.stat().st_size == 0:
            return "empty file (0 bytes)"
        with open(path, "rb"):  # libsndfile reports a file it may not open as a bare "System error."
            pass
    except OSError as error:
        return f"unreadable: {error.strerror or error}"
    return f"not an audio file libsndfile can decode ({str(exc).split(': ', 1)[-1]})"


def ffmpeg_path() -> str:
    """Returns the ffmpeg executable on PATH; raises InputError explaining how to get one."""
    found = shutil.which("ffmpeg")
    if found is None:
        raise InputError("MUSDB18 .stem.mp4 files need ffmpeg to decode, and no `ffmpeg` is on PATH; install it "
                         "(e.g. `apt install ffmpeg`, `brew install ffmpeg` or `conda install ffmpeg`) or use "
                         "MUSDB18-HQ (wav files), which needs nothing else")
    return found


def read_ffmpeg_stream(path: Path, stream: int, sample_rate: int,
                       block_frames: int = BLOCK_FRAMES) -> Iterator[np.ndarray]:
    """Yields audio stream `stream` of a file as mono float32 chunks at `sample_rate` by ffmpeg; raises SkipFile."""
    command = [ffmpeg_path(), "-nostdin", "-v", "error", "-i", str(path), "-map", f"0:a:{stream}",
               "-f", "f32le", "-acodec", "pcm_f32le", "-ac", "1", "-ar", str(sample_rate), "-"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    produced = 0
    try:
        while True:
            raw = process.stdout.read(block_frames * 4)
            if not raw:
                break
            chunk = np.frombuffer(raw[: len(raw) // 4 * 4], dtype="<f4").astype(np.float32)
            produced += len(chunk)
            yield chunk
    finally:
        process.stdout.close()
        error = process.stderr.read().decode(errors="replace").strip()
        process.stderr.close()
        code = process.wait()
    if code != 0:
        last_line = error.splitlines()[-1] if error else f"exit code {code}"
        raise SkipFile(f"ffmpeg could not decode audio stream {stream}: {last_line}")
    if produced == 0:
        raise SkipFile(f"audio stream {stream} is empty")
