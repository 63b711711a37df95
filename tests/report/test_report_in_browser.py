"""report.html in a real headless Chromium: no console errors, every plot decoded, every audio file loaded."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from devtools import CHROMIUM, chromium, serve
from report_runs import NUM_SAMPLES

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


def test_report_loads_without_errors_and_shows_and_plays_everything(engine_run, browser):
    with serve(engine_run) as address:
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
    not_loaded = [p for p in players if p["error"] is not None or p["ready"] < 1 or not (p["duration"] or 0) > 0]
    assert not_loaded == []
    assert all(abs(p["duration"] - 16384 / 16000) < 0.01 for p in players)  # one SpecGAN window each


def test_the_check_sees_a_missing_audio_file(engine_run, browser, tmp_path):
    """The same check on a copy that lacks one .wav: the player errs and the failed load is logged."""
    copy = shutil.copytree(engine_run, tmp_path / "copy", ignore=shutil.ignore_patterns("checkpoints"))
    (copy / "report_audio" / "sample_01.wav").unlink()
    with serve(copy) as address:
        browser.open(address + "report.html")
        state = browser.evaluate(MEDIA_STATE)
        problems = browser.problems()
    broken = [p["src"] for p in state["players"] if p["error"] is not None]
    assert broken == ["report_audio/sample_01.wav"]
    assert any("404" in problem or "sample_01.wav" in problem for problem in problems), problems
