"""report.html: written by every run, self-contained, with plots, samples that play, and real examples."""

from __future__ import annotations

import base64
import csv
import io
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PIL import Image

from spectrogen.cli.main import main
from spectrogen.errors import InputError
from spectrogen.report import write_report
from spectrogen.spectral.representation import Representation
from spectrogen.training.api import train

from report_runs import NUM_SAMPLES, SIZE, tiny_run_config, write_image_dataset

REAL_EXAMPLES = 8  # two of each of the four engine types


class Elements(HTMLParser):
    """Collects the tags of a page with their attributes, and its visible text."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def all(self, tag: str) -> list[dict[str, str]]:
        return [attrs for name, attrs in self.tags if name == tag]

    @property
    def visible(self) -> str:
        return " ".join(self.text)


def page_of(run: Path) -> Elements:
    return Elements((run / "report.html").read_text(encoding="utf-8"))


def decode_png(uri: str) -> Image.Image:
    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix), uri[:40]
    image = Image.open(io.BytesIO(base64.b64decode(uri[len(prefix):])))
    image.load()
    return image


def test_training_writes_a_self_contained_page(engine_run):
    page = page_of(engine_run)
    # nothing is fetched from anywhere: no scripts, no style sheets, every image inline
    assert not page.all("script")
    assert all(link.get("rel") != "stylesheet" for link in page.all("link"))
    images = page.all("img")
    assert images
    for attrs in images:
        assert decode_png(attrs["src"]).size[0] > 50
    # every statistic group a GAN writes has its plot, under the headings a reader looks for
    for title in ("Losses", "Critic outputs", "Gradient norms", "Learning rates"):
        assert any(attrs.get("alt") == title for attrs in images), title
    assert "Configuration" in page.visible and "features_g" in page.visible


def test_each_sample_and_real_example_plays_its_own_audio_file(engine_run):
    page = page_of(engine_run)
    sources = [attrs["src"] for attrs in page.all("audio")]
    representation = Representation.preset("specgan", image_size=(SIZE, SIZE))
    sample_sources = [s for s in sources if "/sample_" in s]
    real_sources = [s for s in sources if "/real_" in s]
    assert len(sample_sources) == NUM_SAMPLES
    assert len(real_sources) == REAL_EXAMPLES
    for source in sources:
        assert not Path(source).is_absolute() and source.startswith("report_audio/")
        audio, rate = soundfile.read(engine_run / source)
        assert rate == representation.sample_rate
        assert len(audio) == representation.num_samples
        assert 0.5 < np.abs(audio).max() <= 1.0  # peak-normalised, not silent
    # the real examples are two of each engine type, named with their class
    words = page.visible.split()
    assert all(words.count(engine) == 2 for engine in ("single", "inline4", "v8", "diesel"))


def test_report_command_rebuilds_the_page_with_the_metrics_of_the_run(engine_run, tmp_path, capsys):
    run = shutil.copytree(engine_run, tmp_path / "copy")
    (run / "report.html").unlink()
    shutil.rmtree(run / "report_audio")
    with open(run / "epochs_statistics" / "checkpoint_metrics.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([["epoch", "fid", "kid"], [1, 40.0, 0.05], [2, 30.0, 0.04]])
    assert main(["report", str(run)]) == 0
    assert str(run / "report.html") in capsys.readouterr().out
    assert len(list((run / "report_audio").glob("*.wav"))) == NUM_SAMPLES + REAL_EXAMPLES
    page = page_of(run)
    assert any(attrs.get("alt") == "Quality metrics" for attrs in page.all("img"))
    assert "fid, epoch 2" in page.visible  # the latest values are in the summary too


def test_report_command_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("not a run")
    assert main(["report", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "is not a training run" in error and "experiment_config.json" in error
    assert "Traceback" not in error
    assert not (tmp_path / "report.html").exists()
    with pytest.raises(InputError, match="no such folder"):
        write_report(tmp_path / "missing")


def test_a_moved_data_set_leaves_out_real_examples_with_a_note(engine_run, tmp_path):
    run = shutil.copytree(engine_run, tmp_path / "copy")
    config = (run / "epochs_statistics" / "experiment_config.json")
    config.write_text(config.read_text().replace('"path": "', f'"path": "{tmp_path}/gone/'))
    page = page_of(write_report(run).parent)
    assert "real examples are left out" in page.visible
    assert not [a for a in page.all("audio") if "/real_" in a["src"]]
    assert len(page.all("audio")) == NUM_SAMPLES  # the generated samples still play


def test_images_only_data_have_no_audio_and_say_so(tmp_path):
    data = write_image_dataset(tmp_path / "squares")
    run = train(tiny_run_config(data, tmp_path / "run", model="dcgan", training={"epochs": 1}), quiet=True)
    page = page_of(run)
    assert not page.all("audio")
    assert not (run / "report_audio").exists()
    assert "nothing to listen to" in page.visible
    assert len([a for a in page.all("img") if "spectrogram of sample" in a.get("alt", "")]) == NUM_SAMPLES
