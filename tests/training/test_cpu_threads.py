"""The CPU thread count follows the cores that other processes leave free."""

import subprocess
import sys
import time

import pytest
import torch

from spectrogen.training.device import ThreadChooser, busy_seconds, threads_for, usable_cores


def test_thread_count_from_free_cores():
    assert threads_for(2.0, 2) == 2
    assert threads_for(1.7, 2) == 2   # a background task taking a third of a core leaves it usable
    assert threads_for(1.0, 2) == 1   # one core busy: one thread, not two that wait on each other
    assert threads_for(0.0, 2) == 1   # never fewer than one
    assert threads_for(7.5, 8) == 7


def test_fixed_count_is_applied_and_given_back():
    before = torch.get_num_threads()
    chooser = ThreadChooser(1)
    chooser.start()
    assert torch.get_num_threads() == 1
    assert chooser.update() is None  # a fixed count is never re-chosen
    chooser.close()
    assert torch.get_num_threads() == before


@pytest.mark.skipif(busy_seconds(usable_cores()) is None, reason="needs /proc/stat (Linux)")
@pytest.mark.skipif(len(usable_cores()) < 2, reason="needs two cores: one for the other work, one to train")
def test_a_core_kept_busy_by_another_process_is_left_to_it(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    torch.set_num_threads(len(usable_cores()))
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)  # the loop is running before the probe starts
        chooser = ThreadChooser()
        note = chooser.start()
        assert chooser.threads <= len(usable_cores()) - 1, (chooser.threads, note)
        assert torch.get_num_threads() == chooser.threads
        assert note is not None and "busy" in note
        time.sleep(0.3)
        assert chooser.others_cores() >= 0.7  # the loop's core, measured over the last interval
        assert chooser.update() is None  # within the measuring window: no change, no new line
    finally:
        busy.kill()
        busy.wait()
        chooser.close()
