"""Audio from spectrograms, heard as a listener would: no click at the edges, the source's level. Real-shaped clips
go to features and back through `Representation.to_audio` at every preset (the mel ones cut to fewer frames)."""

import csv

import numpy as np
import pytest
import soundfile
import torch

import real_shaped
from spectrogen.data import SpectrogramDataset, prepare
from spectrogen.sampling.audio import decibels, rms_level, to_audio
from spectrogen.spectral.compression import decompress
from spectrogen.spectral.normalization import Normalizer
from spectrogen.spectral.representation import Representation
from spectrogen.spectral.stft import spectral_convergence

# (preset, settings, mean spectral convergence of these clips with the old inversion: random phase, a
# pseudo-inverse mel clamped at zero, 32 iterations, seed 0)
PRESETS = [("specgan", {}, 0.0615), ("mel", {"frames": 128}, 0.0746), ("autoencoder", {"frames": 64}, 0.0832)]
EDGE_OVER_BODY = 1.5
LEVEL_DB = 3.0


def edge_and_body(audio: np.ndarray, hop: int, n_fft: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Returns (edge peak, body peak, body RMS) of clips (N, S): edges are the first and last `hop` samples (one
    window alone covers them), the body leaves out a whole window at each end."""
    audio = np.abs(np.asarray(audio, dtype=np.float64))
    edge = np.maximum(audio[:, :hop].max(1), audio[:, -hop:].max(1))
    body = audio[:, n_fft:-n_fft]
    return edge, body.max(1), rms_level(body)


@pytest.fixture(scope="module", params=PRESETS, ids=[p[0] for p in PRESETS])
def round_trip(request):
    """Returns (representation, source clips, features, audio from the features, old mean SC)."""
    name, settings, old_convergence = request.param
    rep = Representation.preset(name, **settings)
    _, source = real_shaped.clips(rep.num_samples, rep.sample_rate, per_kind=2)  # (8, S)
    features = rep.features(torch.from_numpy(source))
    audio = rep.to_audio(features, n_iter=32, generator=torch.Generator().manual_seed(0)).numpy()
    return rep, source, features, audio, old_convergence


def test_no_click_at_the_edges_and_the_body_comes_back_at_the_source_level(round_trip):
    rep, source, _, audio, _ = round_trip
    edge, body, heard = edge_and_body(audio, rep.hop_length, rep.n_fft)
    assert (edge <= EDGE_OVER_BODY * body).all(), (edge / body).round(2).tolist()
    difference = decibels(heard) - decibels(edge_and_body(source, rep.hop_length, rep.n_fft)[2])
    assert (np.abs(difference) < LEVEL_DB).all(), difference.round(2).tolist()


def test_the_audio_fits_its_spectrogram_better_than_before(round_trip):
    rep, _, features, audio, old_convergence = round_trip
    again = rep.features(torch.from_numpy(audio))
    convergence = spectral_convergence(decompress(features, rep.log), decompress(again, rep.log))
    assert float(convergence.mean()) < old_convergence, convergence.tolist()
    assert (convergence < 0.15).all(), convergence.tolist()  # no clip left far from its spectrogram


@pytest.mark.parametrize("init", ["random", "zeros"])
def test_other_phase_starts_have_no_edge_blow_up_either(init):
    rep = Representation.preset("specgan")
    _, source = real_shaped.clips(rep.num_samples, rep.sample_rate)
    audio = rep.to_audio(rep.features(torch.from_numpy(source)), n_iter=8, init=init,
                         generator=torch.Generator().manual_seed(1)).numpy()
    edge, body, _ = edge_and_body(audio, rep.hop_length, rep.n_fft)
    assert (edge <= EDGE_OVER_BODY * body).all(), (edge / body).round(2).tolist()


def test_a_prepared_recording_comes_back_at_its_own_level(tmp_path):
    """A recording -> prepare -> features normalised as a model sees them -> to_audio."""
    rate = 16000
    folder = tmp_path / "recordings"
    folder.mkdir()
    rep = Representation.preset("specgan")
    for kind in real_shaped.KINDS:
        # two windows of each kind, the second 6 dB quieter: the level must follow the recording
        clip = real_shaped.clip(kind, 2 * rep.num_samples, rate, seed=3)
        clip[rep.num_samples:] *= 0.5
        soundfile.write(folder / f"{kind}.wav", clip, rate, subtype="FLOAT")
    prepare(folder, tmp_path / "data", representation="specgan", silence_db=None, quiet=True)
    data = SpectrogramDataset.open(tmp_path / "data")
    features = torch.from_numpy(np.array(data.features))
    normalizer = Normalizer("per_frequency", data.moments)
    audio = to_audio(normalizer(features).unsqueeze(1), data.representation, normalizer)  # (N, S)

    rows = list(csv.DictReader((tmp_path / "data" / "index.csv").read_text().splitlines()))
    assert len(rows) == len(audio) == 2 * len(real_shaped.KINDS)
    for row, heard in zip(rows, audio):
        recording, _ = soundfile.read(folder / row["source"], dtype="float32")
        start = int(round(float(row["offset_s"]) * rate))
        played = recording[start:start + rep.num_samples][None]
        heard_rms, played_rms = (edge_and_body(clip, rep.hop_length, rep.n_fft)[2] for clip in (heard[None], played))
        difference = float((decibels(heard_rms) - decibels(played_rms))[0])
        assert abs(difference) < LEVEL_DB, (row["source"], row["offset_s"], difference)
