"""Reading ahead in threads or worker processes: the order of a plain loop, errors in place, early stops end the
workers, a bounded look-ahead."""

import multiprocessing
import os
import threading
import time
from functools import partial

import pytest

from spectrogen.data.decode import SkipFile
from spectrogen.data.read_ahead import processes_available, read_ahead, read_processes

needs_fork = pytest.mark.skipif(not processes_available(), reason="needs fork")
READERS = [pytest.param(partial(read_ahead, items_ahead=4), id="threads"),
           pytest.param(read_processes, id="processes", marks=needs_fork)]


def produce(item):
    # later items are faster, so a worker racing ahead would reorder a naive implementation
    for part in range(3):
        time.sleep(0.001 * (5 - item % 5))
        yield item, part, os.getpid()


@pytest.mark.parametrize("reader", READERS)
def test_order_is_that_of_a_plain_loop(reader):
    values = list(reader(list(range(20)), produce, workers=3, depth=2))
    assert [(item, part) for item, part, _ in values] == [(item, part) for item in range(20) for part in range(3)]
    assert [v[:2] for v in reader([7], produce, workers=4)] == [(7, 0), (7, 1), (7, 2)]  # more workers than items
    assert list(reader([], produce, workers=4)) == []


@needs_fork
def test_worker_processes_are_other_processes():
    pids = {pid for _, _, pid in read_processes(list(range(20)), produce, workers=3, depth=2)}
    assert len(pids) == 3 and os.getpid() not in pids


def failing(item):
    yield item
    if item == 3:
        raise SkipFile("bad item")


@pytest.mark.parametrize("reader", READERS)
def test_an_error_is_raised_in_the_consumer_at_its_place(reader):
    seen = []
    with pytest.raises(SkipFile, match="bad item"):
        for value in reader(list(range(8)), failing, workers=2):
            seen.append(value)
    assert seen == [0, 1, 2, 3]


class Unpicklable(Exception):
    def __init__(self, a, b):
        super().__init__(f"{a}{b}")


def unpicklable(item):
    raise Unpicklable("x", "y")
    yield item  # pragma: no cover


def dying(item):
    os._exit(3)
    yield item  # pragma: no cover


@needs_fork
def test_a_worker_process_that_cannot_send_its_error_or_dies_is_an_error_not_a_hang():
    with pytest.raises(RuntimeError, match="Unpicklable in a decoding worker process"):
        list(read_processes([0, 1], unpicklable, workers=2))
    with pytest.raises(RuntimeError, match="stopped unexpectedly"):
        list(read_processes([0, 1], dying, workers=2))


def test_stopping_early_ends_the_threads_and_closes_the_producers():
    closed = []

    def endless(item):
        try:
            while True:
                yield item
        finally:
            closed.append(item)

    before = threading.active_count()
    for count, value in enumerate(read_ahead(list(range(5)), endless, workers=2, depth=2)):
        if count == 10:
            break
    deadline = time.time() + 2
    while threading.active_count() > before and time.time() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == before
    assert 0 in closed


def forever(item):
    while True:
        yield item


@needs_fork
def test_stopping_early_ends_the_worker_processes():
    values = read_processes(list(range(4)), forever, workers=2, depth=1)
    assert next(values) == 0
    values.close()  # would hang if the workers were waited for
    assert not [p for p in multiprocessing.active_children() if p.name.startswith("spectrogen-decode")]


def test_threads_stay_a_bounded_number_of_items_ahead():
    started, consumed = [], []
    lock = threading.Lock()

    def tracked(item):
        with lock:
            started.append(item)
            ahead = len(started) - len(consumed)
        yield ahead

    for ahead in read_ahead(list(range(30)), tracked, workers=4, items_ahead=3):
        assert ahead <= 3
        time.sleep(0.002)
        consumed.append(ahead)


def test_a_byte_budget_bounds_the_values_waiting_beyond_the_current_item():
    lock = threading.Lock()
    produced, consumed, most_ahead = [0], [0], [0]

    def sized(item):  # five values of 10 bytes each
        for part in range(5):
            yield item, part
            with lock:  # the value was handed over: count it, and how many wait
                produced[0] += 1
                most_ahead[0] = max(most_ahead[0], produced[0] - consumed[0])

    items = list(range(40))
    seen = []
    for value in read_ahead(items, sized, workers=3, items_ahead=100, depth=100, budget=30, size=lambda v: 10):
        time.sleep(0.001)  # a slow consumer: without the budget, workers would run far ahead
        with lock:
            consumed[0] += 1
        seen.append(value)
    assert seen == [(item, part) for item in items for part in range(5)]
    # at most 3 values within the budget, plus the rest of the item being read (exempt), plus one
    # value in the hands of each of the other two workers
    assert most_ahead[0] <= 3 + 5 + 2, most_ahead[0]


def test_values_larger_than_the_budget_still_pass_in_order():
    values = list(read_ahead(list(range(12)), lambda item: iter([item, -item]), workers=3, budget=10,
                             size=lambda v: 1000))
    assert values == [v for item in range(12) for v in (item, -item)]
