"""Decoding: any format and rate to mono float32 at the target rate, whole or block by block; 16-bit recordings are
read as integers and scaled to the values libsndfile's float conversion gives."""

import numpy as np
import pytest
import soundfile
import soxr

from spectrogen.data.decode import read_audio, to_mono

from common import tone, write_tone


def decoded(path, sample_rate, **kwargs):
    return np.concatenate(list(read_audio(path, sample_rate, **kwargs)))


@pytest.mark.parametrize("suffix, rate", [(".wav", 16000), (".wav", 44100), (".flac", 48000),
                                          (".ogg", 22050), (".mp3", 44100), (".aiff", 8000)])
def test_any_rate_and_format_is_resampled_to_the_target_keeping_pitch_and_length(tmp_path, suffix, rate):
    audio = decoded(write_tone(tmp_path / f"tone{suffix}", 1000.0, 1.0, rate), 16000)
    assert audio.dtype == np.float32
    # mp3 encoders add a few ms of padding; everything else keeps the length to a sample or two
    assert abs(len(audio) - 16000) <= (2000 if suffix == ".mp3" else 2)
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    assert np.argmax(spectrum) * 16000 / len(audio) == pytest.approx(1000.0, abs=2.0)  # the pitch
    assert np.sqrt(np.mean(audio[2000:14000] ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.05)


def test_resampled_tone_matches_the_tone_made_at_the_target_rate(tmp_path):
    audio = decoded(write_tone(tmp_path / "a.wav", 440.0, 1.0, 44100), 16000)
    # soxr's HQ filter is linear phase with its delay compensated: sample-accurate away from the ends
    np.testing.assert_allclose(audio[500:-500], tone(440.0, 1.0, 16000)[500:-500], atol=2e-3)


def test_channels_are_averaged_to_mono(tmp_path):
    path = write_tone(tmp_path / "three.wav", 440.0, 0.5, 16000, channels=3)  # amplitudes 1, 1/2, 1/3
    np.testing.assert_allclose(decoded(path, 16000), tone(440.0, 0.5, 16000) * (1 + 1 / 2 + 1 / 3) / 3, atol=1e-4)


def test_block_streaming_equals_reading_in_one_go(tmp_path):
    path = write_tone(tmp_path / "long.wav", 330.0, 3.0, 44100, channels=2)
    whole = decoded(path, 16000)
    blocks = list(read_audio(path, 16000, block_frames=10000))
    assert len(blocks) > 5
    streamed = np.concatenate(blocks)
    assert abs(len(streamed) - len(whole)) <= 1
    n = min(len(whole), len(streamed))
    np.testing.assert_allclose(streamed[:n], whole[:n], atol=1e-4)


def _float_reference(path, block_frames):
    """The channel average of libsndfile's own float32 samples, block by block as `read_audio` reads."""
    with soundfile.SoundFile(str(path)) as handle:
        return np.concatenate([to_mono(block) for block in handle.blocks(block_frames, dtype="float32",
                                                                           always_2d=True)])


@pytest.mark.parametrize("channels", [1, 2, 3, 6])
@pytest.mark.parametrize("fmt", ["WAV", "FLAC", "AIFF"])
def test_16_bit_samples_decode_to_libsndfile_float_values(tmp_path, fmt, channels):
    samples = np.random.default_rng(channels).integers(-32768, 32768, size=(20000, channels)).astype(np.int16)
    samples[:5], samples[5:10] = -32768, 32767  # the extremes
    path = tmp_path / f"x.{fmt.lower()}"
    soundfile.write(str(path), samples, 22050, format=fmt, subtype="PCM_16")
    for block_frames in (1 << 20, 6000):  # the whole file, and several blocks
        got = np.concatenate(list(read_audio(path, 22050, block_frames=block_frames)))
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, _float_reference(path, block_frames))


def test_16_bit_file_resampled_equals_the_float_path_resampled(tmp_path):
    t = np.arange(44100) / 44100
    audio = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.3 * np.sin(2 * np.pi * 660 * t)], axis=1)
    path = tmp_path / "stereo.wav"
    soundfile.write(str(path), audio, 44100, subtype="PCM_16")
    expected = soxr.resample(_float_reference(path, 1 << 20), 44100, 16000, quality="HQ")
    np.testing.assert_array_equal(np.concatenate(list(read_audio(path, 16000))), expected)
