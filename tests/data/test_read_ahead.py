"""Background reading: same order as a plain loop, bounded look-ahead, errors and early stops."""

import threading
import time

import pytest

from spectrogen.data.read_ahead import read_ahead


def produce(item):
    # later items are faster, so a worker racing ahead would reorder a naive implementation
    for part in range(3):
        time.sleep(0.001 * (5 - item % 5))
        yield item, part


def test_order_is_that_of_a_plain_loop():
    items = list(range(20))
    expected = [value for item in items for value in produce(item)]
    assert list(read_ahead(items, produce, workers=3, items_ahead=4, depth=2)) == expected


def test_workers_stay_a_bounded_number_of_items_ahead():
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


def test_an_error_is_raised_in_the_consumer_at_its_place():
    def failing(item):
        if item == 3:
            raise ValueError("bad item 3")
        yield item

    seen = []
    with pytest.raises(ValueError, match="bad item 3"):
        for value in read_ahead(list(range(10)), failing, workers=2):
            seen.append(value)
    assert seen == [0, 1, 2]


def test_stopping_early_ends_the_workers_and_closes_the_producers():
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
