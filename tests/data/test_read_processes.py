"""Reading in worker processes: same order as a plain loop, errors in place, early stops end the workers."""

import os
import time

import pytest

from spectrogen.data.read_ahead import processes_available, read_processes
from spectrogen.data.skip import SkipFile

pytestmark = pytest.mark.skipif(not processes_available(), reason="needs fork")


def produce(item):
    # later items are faster, so a worker racing ahead would reorder a naive implementation
    for part in range(3):
        time.sleep(0.001 * (5 - item % 5))
        yield item, part, os.getpid()


def test_order_is_that_of_a_plain_loop_and_the_work_runs_in_other_processes():
    values = list(read_processes(list(range(20)), produce, workers=3, depth=2))
    assert [(item, part) for item, part, _ in values] == [(item, part) for item in range(20) for part in range(3)]
    pids = {pid for _, _, pid in values}
    assert len(pids) == 3 and os.getpid() not in pids


def test_more_workers_than_items_and_no_items():
    assert [v[:2] for v in read_processes([7], produce, workers=4)] == [(7, 0), (7, 1), (7, 2)]
    assert list(read_processes([], produce, workers=4)) == []


def failing(item):
    yield item
    if item == 3:
        raise SkipFile("bad item")


def test_an_error_is_raised_at_its_place_in_the_order():
    seen = []
    with pytest.raises(SkipFile, match="bad item"):
        for value in read_processes(list(range(8)), failing, workers=2):
            seen.append(value)
    assert seen == [0, 1, 2, 3]


class Unpicklable(Exception):
    def __init__(self, a, b):
        super().__init__(f"{a}{b}")


def unpicklable(item):
    raise Unpicklable("x", "y")
    yield item  # pragma: no cover


def test_an_error_that_cannot_be_pickled_arrives_as_runtime_error():
    with pytest.raises(RuntimeError, match="Unpicklable in a decoding worker process"):
        list(read_processes([0, 1], unpicklable, workers=2))


def endless(item):
    while True:
        yield item


def test_stopping_early_ends_the_workers():
    values = read_processes(list(range(4)), endless, workers=2, depth=1)
    assert next(values) == 0
    values.close()  # would hang if the workers were waited for
    import multiprocessing
    assert not [p for p in multiprocessing.active_children() if p.name.startswith("spectrogen-decode")]


def dying(item):
    os._exit(3)
    yield item  # pragma: no cover


def test_a_worker_that_dies_is_an_error_not_a_hang():
    with pytest.raises(RuntimeError, match="stopped unexpectedly"):
        list(read_processes([0, 1], dying, workers=2))
