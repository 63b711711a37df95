"""report.html in a real headless Chromium: no console errors, every plot decoded, every audio file loaded."""

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile

from devtools import CHROMIUM, chromium, serve
from report_runs import NUM_SAMPLES
from test_report_page import embedded

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason="no Chromium at /usr/bin/chromium (CI installs the Debian package `chromium`)"),
]
pytest.importorskip("websocket", reason="websocket-client is not installed (pip install -e '.[dev]')")

# waits until each <audio> has its metadata or an error (at most 30 s), then reports every image and player
MEDIA_STATE = """
(async () => {
  const players = Array.from(document.querySelectorAll('audio'));
  const settled = a => new Promise(done => {
    if (a.readyState >= 1 || a.error) return done();
    a.addEventListener('loadedmetadata', done, {once: true});
    a.addEventListener('error', done, {once: true});
  });
  await Promise.race([Promise.all(players.map(settled)), new Promise(done => setTimeout(done, 30000))]);
  return {
    images: Array.from(document.images).map(i => ({alt: i.alt, complete: i.complete, width: i.naturalWidth})),
    players: players.map(a => ({src: a.getAttribute('src'), ready: a.readyState, duration: a.duration,
                                error: a.error ? a.error.code : null})),
  };
})()
"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium_profile")) as page:
        yield page


def test_report_loads_without_errors_and_shows_and_plays_everything(engine_run, browser, tmp_path):
    """report.html copied alone, without report_audio/ or anything else, still shows and plays everything."""
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(engine_run / "report.html", alone / "report.html")
    with serve(alone) as address:
        browser.open(address + "report.html")
        state = browser.evaluate(MEDIA_STATE)
        problems = browser.problems()
    assert problems == []
    images = state["images"]
    assert len(images) >= 4 + 1 + NUM_SAMPLES  # statistics plots, the grid, one image per sample
    undecoded = [image["alt"] for image in images if not (image["complete"] and image["width"] > 0)]
    assert undecoded == []
    players = state["players"]
    assert len(players) == NUM_SAMPLES + 8  # the samples and two real examples of each engine type
    not_loaded = [p["src"][:40] for p in players
                  if p["error"] is not None or p["ready"] < 1 or not (p["duration"] or 0) > 0]
    assert not_loaded == []
    assert all(abs(p["duration"] - 16384 / 16000) < 0.01 for p in players)  # one SpecGAN window each
    # what the browser plays is sound: decode each player's source and measure its level
    levels = []
    for player in players:
        audio, _ = soundfile.read(io.BytesIO(embedded(player["src"])))
        levels.append(20 * np.log10(np.sqrt(np.mean(audio ** 2)) + 1e-12))
    assert min(levels) > -60, levels  # sound, not silence


def test_the_check_sees_a_clip_that_does_not_load(engine_run, browser, tmp_path):
    """The same check on a copy whose first embedded clip is damaged: that player errs."""
    copy = tmp_path / "copy"
    copy.mkdir()
    page = (engine_run / "report.html").read_text(encoding="utf-8")
    marker = 'src="data:audio/wav;base64,'
    start = page.index(marker) + len(marker)
    (copy / "report.html").write_text(page[:start] + "AAAA" + page[start + 200:], encoding="utf-8")
    with serve(copy) as address:
        browser.open(address + "report.html")
        state = browser.evaluate(MEDIA_STATE)
    broken = [index for index, p in enumerate(state["players"]) if p["error"] is not None]
    assert broken == [0]
