"""Each transform refuses a setting or an input it cannot use with an error that names the key or the shape."""

import numpy as np
import pytest
import torch

from spectrogen.errors import ConfigError, InputError
from spectrogen.spectral import (FeatureMapping, GriffinLim, MelScale, MomentAccumulator, Moments, Normalizer,
                                 Representation, Spectrogram, compress, decompress)

MOMENTS = Moments(np.zeros(16), np.ones(16), -1.0, 1.0, 24)
SPECGAN = Representation.preset("specgan")
IMAGE = Representation(kind="image", image_size=(28, 28))


def accumulated(*batches):
    accumulator = MomentAccumulator()
    for batch in batches:
        accumulator.update(batch)
    return accumulator.result()


REFUSALS = {
    "stft_hop": (lambda: Spectrogram(256, 300), ConfigError, "hop_length"),
    "stft_window": (lambda: Spectrogram(256, 128, win_length=512), ConfigError, "win_length"),
    "stft_odd_nyquist": (lambda: Spectrogram(255, 128, drop_nyquist=True), ConfigError, "drop_nyquist"),
    "mel_fmax": (lambda: MelScale(16000, 1024, 64, fmin=0.0, fmax=9000.0), ConfigError, "fmax"),
    "mel_none": (lambda: MelScale(16000, 1024, 0), ConfigError, "n_mels"),
    "log": (lambda: compress(torch.ones(1), "log10"), ConfigError, "representation.log"),
    "log_inverse": (lambda: decompress(torch.ones(1), "log10"), ConfigError, "representation.log"),
    "griffin_lim_rows": (lambda: GriffinLim(256, 128, nyquist_dropped=True)(torch.zeros(1, 129, 8)), InputError,
                         "frequency rows"),
    "griffin_lim_momentum": (lambda: GriffinLim(256, 128, momentum=1.5), ConfigError, "momentum"),
    "griffin_lim_init": (lambda: GriffinLim(256, 128, init="noise"), ConfigError, "init"),
    "normalization": (lambda: Normalizer("zscore", MOMENTS), ConfigError, "normalization"),
    "normalization_moments": (lambda: Normalizer("per_frequency"), ConfigError, "moments"),
    "normalization_rows": (lambda: Normalizer("per_frequency", MOMENTS)(torch.zeros(2, 24, 16)), InputError,
                           "axis -2"),
    "moments_empty": (lambda: MomentAccumulator().result(), InputError, "no data"),
    "moments_rows": (lambda: accumulated(np.zeros((2, 4, 3)), np.zeros((2, 5, 3))), InputError, "frequency rows"),
    "moments_nan": (lambda: accumulated(np.zeros((2, 4, 3)), np.full((1, 4, 3), np.nan)), InputError, "NaN"),
    "moments_key": (lambda: Moments.from_dict({"mean": [0.0], "min": 0.0, "max": 1.0, "count": 1}), InputError,
                    "'std'"),
    "preset": (lambda: Representation.preset("wavenet"), ConfigError, "specgan"),
    "features_height": (lambda: SPECGAN.to_audio(torch.zeros(1, 129, 128)), InputError, "axis -2"),
    "image_to_audio": (lambda: IMAGE.to_audio(torch.zeros(1, 28, 28)), InputError, "no audio representation"),
    "image_features": (lambda: IMAGE.features(torch.zeros(1, 100)), InputError, "no audio representation"),
    "image_samples": (lambda: IMAGE.num_samples, InputError, "no audio representation"),
    "mapping_features": (lambda: FeatureMapping(SPECGAN, None, (64, 64)).to_model(torch.zeros(1, 64, 128)),
                         InputError, "do not fit"),
    "mapping_arrays": (lambda: FeatureMapping(SPECGAN, None, (64, 64)).to_features(torch.zeros(1, 2, 64, 64)),
                       InputError, "do not fit"),
}
# representation settings: the error names the key
SETTINGS = [({"hop_length": 512}, "hop_length"), ({"kind": "mel", "fmax": 9000.0}, "fmax"),
            ({"kind": "mel", "drop_nyquist": True}, "drop_nyquist"), ({"kind": "image"}, "image_size"),
            ({"log": "log10"}, "log"), ({"frames": 0}, "frames"), ({"image_size": [64, 0]}, "image_size"),
            ({"n_ffts": 512}, "n_ffts")]
REFUSALS.update({f"settings_{index}": (lambda settings=settings: Representation.from_dict(settings), ConfigError, key)
                 for index, (settings, key) in enumerate(SETTINGS)})


@pytest.mark.parametrize("attempt, error, message", REFUSALS.values(), ids=REFUSALS.keys())
def test_a_bad_setting_or_input_is_refused_naming_it(attempt, error, message):
    with pytest.raises(error, match=message):
        attempt()
