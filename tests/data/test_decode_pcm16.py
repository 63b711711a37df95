"""16-bit recordings are read as integers and scaled: the values libsndfile's float conversion gives."""

import numpy as np
import pytest
import soundfile

from spectrogen.data.decode import read_audio, to_mono


def _float_reference(path, block_frames):
    """The channel average of libsndfile's own float32 samples, block by block as `read_audio` reads."""
    with soundfile.SoundFile(str(path)) as handle:
        return np.concatenate([to_mono(block) for block in handle.blocks(block_frames, dtype="float32",
                                                                           always_2d=True)])


@pytest.mark.parametrize("channels", [1, 2, 3, 6])
@pytest.mark.parametrize("fmt", ["WAV", "FLAC", "AIFF"])
def test_16_bit_samples_decode_to_libsndfile_float_values(tmp_path, fmt, channels):
    rng = np.random.default_rng(channels)
    samples = rng.integers(-32768, 32768, size=(20000, channels)).astype(np.int16)
    samples[:5], samples[5:10] = -32768, 32767  # the extremes
    path = tmp_path / f"x.{fmt.lower()}"
    soundfile.write(str(path), samples, 22050, format=fmt, subtype="PCM_16")
    for block_frames in (1 << 20, 6000):  # the whole file, and several blocks
        got = np.concatenate(list(read_audio(path, 22050, block_frames=block_frames)))
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, _float_reference(path, block_frames))


def test_16_bit_file_resampled_equals_the_float_path_resampled(tmp_path):
    import soxr

    t = np.arange(44100) / 44100
    audio = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.3 * np.sin(2 * np.pi * 660 * t)], axis=1)
    path = tmp_path / "stereo.wav"
    soundfile.write(str(path), audio, 44100, subtype="PCM_16")
    expected = soxr.resample(_float_reference(path, 1 << 20), 44100, 16000, quality="HQ")
    np.testing.assert_array_equal(np.concatenate(list(read_audio(path, 16000))), expected)
