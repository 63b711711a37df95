"""report.html: written by every run, self-contained, with plots, samples that play, and real examples."""

import base64
import csv
import io
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PIL import Image

from spectrogen.cli.main import main
from spectrogen.data.sources.builtin import ENGINE_TYPES, synthesize
from spectrogen.errors import InputError
from spectrogen.metrics.evaluate import EvaluationResult
from spectrogen.metrics.table import write_metrics
from spectrogen.report import write_report
from spectrogen.spectral.representation import Representation
from spectrogen.training.csv_log import CsvLog
from spectrogen.api import train

from common import assert_refused, run_cli
from report_runs import NUM_SAMPLES, SIZE, tiny_run_config, write_image_dataset

REAL_EXAMPLES = 8  # two of each of the four engine types


class Elements(HTMLParser):
    """Collects the tags of a page with their attributes, and its visible text."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.feed(text)
        self.visible = " ".join(self.text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def all(self, tag: str) -> list[dict[str, str]]:
        return [attrs for name, attrs in self.tags if name == tag]


def page_of(run: Path) -> Elements:
    return Elements((run / "report.html").read_text(encoding="utf-8"))


def embedded(source: str, kind: str = "audio/wav") -> bytes:
    """Returns the bytes of a data: URI holding `kind` (fails for any other source)."""
    prefix = f"data:{kind};base64,"
    assert source.startswith(prefix), source[:40]
    return base64.b64decode(source[len(prefix):])


def png_width(uri: str) -> int:
    image = Image.open(io.BytesIO(embedded(uri, "image/png")))
    image.load()  # every pixel decodes
    return image.size[0]


def test_training_writes_a_self_contained_page(engine_run):
    page = page_of(engine_run)
    # nothing is fetched from anywhere: no scripts, no style sheets, every image inline
    assert not page.all("script")
    assert all(link.get("rel") != "stylesheet" for link in page.all("link"))
    images = page.all("img")
    assert images
    for attrs in images:
        assert png_width(attrs["src"]) > 50
    # every statistic group a GAN writes has its plot, under the headings a reader looks for
    for title in ("Losses", "Critic outputs", "Gradient norms", "Learning rates"):
        assert any(attrs.get("alt") == title for attrs in images), title
    assert "Configuration" in page.visible and "features_g" in page.visible


def test_each_sample_and_real_example_plays_its_own_clip_embedded_in_the_page(engine_run):
    page = page_of(engine_run)
    sources = [attrs["src"] for attrs in page.all("audio")]
    representation = Representation.preset("specgan", image_size=(SIZE, SIZE))
    assert len(sources) == NUM_SAMPLES + REAL_EXAMPLES
    names = [f"sample_{i:02d}.wav" for i in range(1, NUM_SAMPLES + 1)]
    names += [f"real_{i:02d}.wav" for i in range(1, REAL_EXAMPLES + 1)]
    assert sorted(path.name for path in (engine_run / "report_audio").glob("*.wav")) == sorted(names)
    hop = representation.hop_length
    for source, name in zip(sources, names):
        data = embedded(source)
        assert data == (engine_run / "report_audio" / name).read_bytes()  # the page plays the written file
        audio, rate = soundfile.read(io.BytesIO(data))
        assert rate == representation.sample_rate and len(audio) == representation.num_samples
        body = np.abs(audio[2 * hop:-2 * hop])
        # no click at the edges: the first and last hop no louder than 1.5x the body's peak
        assert max(np.abs(audio[:hop]).max(), np.abs(audio[-hop:]).max()) <= 1.5 * body.max(), name
        rms = 20 * np.log10(np.sqrt(np.mean(audio ** 2)))
        assert rms > -60, (name, rms)  # sound, not silence
    # a real example sounds as loud as the recording it was made from (output.loudness=data): within
    # 3 dB of the engine clip, made again from the data set's seed, after the 32 x 32 resize and back
    seed = json.loads((engine_run.parent / "data" / "dataset.json").read_text())["source"]["options"]["seed"]
    rows = CsvLog(engine_run.parent / "data" / "index.csv").rows()
    examples = [int(index) for index in re.findall(r"real_\d+ \(example (\d+)\)", page.visible)]
    assert len(examples) == REAL_EXAMPLES
    for k, index in enumerate(examples):
        label, clip = int(rows[index]["label"]), int(rows[index]["source"].split("/")[1])
        source = synthesize(ENGINE_TYPES[label], representation.num_samples, representation.sample_rate,
                            np.random.default_rng([seed, label, clip]))
        heard, _ = soundfile.read(engine_run / "report_audio" / f"real_{k + 1:02d}.wav")
        difference = 10 * np.log10(np.mean(heard ** 2) / np.mean(source.astype(np.float64) ** 2))
        assert abs(difference) < 3.0, (rows[index]["source"], difference)
    assert "embedded in this page" in page.visible and "at the level of the recordings" in page.visible
    # the real examples are two of each engine type, named with their class
    assert all(page.visible.split().count(engine) == 2 for engine in ("single", "inline4", "v8", "diesel"))


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
    code, _, err = run_cli(["report", tmp_path], capsys)
    assert_refused(code, err, "is not a training run", "experiment_config.json")
    assert not (tmp_path / "report.html").exists()
    with pytest.raises(InputError, match="no such folder"):
        write_report(tmp_path / "missing")


def test_a_moved_data_set_leaves_out_real_examples_with_a_note(engine_run, tmp_path):
    run = shutil.copytree(engine_run, tmp_path / "copy")
    config = (run / "epochs_statistics" / "experiment_config.json")
    config.write_text(config.read_text().replace('"path": "', f'"path": "{tmp_path}/gone/'))
    page = page_of(write_report(run).parent)
    assert "real examples are left out" in page.visible
    assert len(page.all("audio")) == NUM_SAMPLES  # the generated samples still play, the real ones are gone


def test_images_only_data_have_no_audio_and_say_so(tmp_path):
    data = write_image_dataset(tmp_path / "squares")
    run = train(tiny_run_config(data, tmp_path / "run", model="dcgan", training={"epochs": 1}), quiet=True)
    page = page_of(run)
    assert not page.all("audio")
    assert not (run / "report_audio").exists()
    assert "nothing to listen to" in page.visible
    assert len([a for a in page.all("img") if "spectrogram of sample" in a.get("alt", "")]) == NUM_SAMPLES


def test_title_names_the_run_and_model_and_settings_of_other_families_are_folded_away(engine_run):
    text = (engine_run / "report.html").read_text(encoding="utf-8")
    heading = re.search(r"<h1>(.*?)</h1>", text).group(1)
    assert heading == f"{engine_run.parent.name}/{engine_run.name}: specgan run report"  # not the preset's "tiny"
    shown, folded, origins = text.split("<details>")
    # the SpecGAN's own settings in view; the diffusion model's and the autoencoder's inside <details>
    assert "features_g" in shown and "critic_steps" in shown
    assert "timesteps" not in shown and "kl_weight" not in shown
    assert "model.diffusion.timesteps" in folded and "model.autoencoder.kl_weight" in folded
    assert "do not apply to a specgan model" in folded
    # where each value came from, folded too: the steps in order, each with the keys it set
    assert "resolved_from" not in shown and "where the values came from" in origins
    assert "family specgan" in origins and "model.upsample" in origins.split("family specgan")[-1]


def test_collapsed_samples_are_flagged_in_the_report_and_diverse_ones_are_not(engine_run, tmp_path):
    # two epochs of a tiny GAN draw one blurry texture for every noise vector: flagged
    assert "mode collapse: at epoch 2 the samples look alike" in page_of(engine_run).visible
    # the same run, had its last samples been as varied as the data, carries no such note
    run = shutil.copytree(engine_run, tmp_path / "run")
    table = CsvLog(run / "epochs_statistics" / "epoch_statistics.csv")
    *_, last = table.rows()
    table.keep(lambda row: row["epoch"] < last["epoch"])
    table.append({**last, "diversity_ratio": 0.9, "collapse": 0})
    write_report(run)
    assert "mode collapse: at epoch" not in page_of(run).visible


def test_the_spectral_figures_of_an_evaluation_stand_beside_the_real_datas_with_a_profile_plot(engine_run, tmp_path):
    run = shutil.copytree(engine_run, tmp_path / "copy")
    rows = 8
    profiles = {"mean_db": [-30.0] * rows, "std_db": [4.0] * rows, "mean_db_real": [-20.0] * rows,
                "std_db_real": [6.0] * rows}
    result = EvaluationResult(metrics={"artifact_ratio": 9.5, "artifact_ratio_real": 1.02, "level_db_distance": 10.0,
                                       "silent_mid": 0.33, "silent_mid_real": 0.0, "tonal_ratio": 0.05},
                              info={"spectral_profiles": profiles})
    write_metrics(result, run / "evaluation")
    page = page_of(write_report(run).parent)
    text = (run / "report.html").read_text(encoding="utf-8")
    section = text.split("<h2>Spectral statistics</h2>")[1].split("<h2>")[0]
    # each figure in its row: the samples' value, then the real data's own
    assert re.search(r"<th>artifact_ratio</th><td[^>]*>9\.500</td><td[^>]*>1\.020</td>", section)
    assert re.search(r"<th>silent_mid</th><td[^>]*>0\.330</td><td[^>]*>0\.000</td>", section)
    assert re.search(r"<th>level_db_distance</th><td[^>]*>10\.000</td><td[^>]*></td>", section)  # no real value
    plot = next(attrs for attrs in page.all("img") if attrs.get("alt") == "Level of each frequency")
    assert png_width(plot["src"]) > 100
    # a run evaluated before these figures existed shows no such section
    (run / "evaluation" / "metrics.json").write_text(json.dumps({"metrics": {"fid": 3.0}}))
    assert "Spectral statistics" not in (write_report(run)).read_text(encoding="utf-8")
