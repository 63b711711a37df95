"""Reading items in background threads, in order, a bounded amount ahead of the consumer.

`prepare` decodes and resamples the next files in worker threads (soundfile and soxr release
the GIL) while the main thread computes features of the previous ones. Each worker streams one
item at a time into that item's own bounded queue, and at most `items_ahead` items are claimed
before the consumer has finished them, so memory stays at a few blocks per worker whatever the
number or length of the files; the consumer sees exactly the order of a plain loop.
"""

from __future__ import annotations

import queue
import threading
from typing import Callable, Iterable, Iterator, Sequence, TypeVar

I = TypeVar("I")
T = TypeVar("T")

_END = object()


class _Failure:
    """An exception raised while producing an item, re-raised in the consumer."""

    def __init__(self, error: BaseException):
        self.error = error


class _Stopped(Exception):
    """The consumer went away; the worker leaves its item unfinished."""


def read_ahead(items: Sequence[I], produce: Callable[[I], Iterable[T]], *, workers: int = 2,
               items_ahead: int = 4, depth: int = 8) -> Iterator[T]:
    """Yields everything `produce(item)` yields, item after item in order, produced by `workers` threads.

    An exception raised by `produce` is re-raised here, at its place in the order; stopping early
    (break, close, an exception in the consumer) stops the workers.
    """
    stop = threading.Event()
    claim_lock = threading.Lock()
    in_flight = threading.Semaphore(max(1, items_ahead))
    queues: dict[int, queue.Queue] = {}
    ready = threading.Condition()
    next_index = [0]

    def put(buffer: queue.Queue, value) -> None:
        while not stop.is_set():
            try:
                buffer.put(value, timeout=0.05)
                return
            except queue.Full:
                continue
        raise _Stopped

    def work() -> None:
        while not stop.is_set():
            if not in_flight.acquire(timeout=0.05):
                continue
            with claim_lock:
                index = next_index[0]
                next_index[0] += 1
            if index >= len(items):
                in_flight.release()
                return
            buffer: queue.Queue = queue.Queue(maxsize=max(1, depth))
            with ready:
                queues[index] = buffer
                ready.notify_all()
            values = iter(produce(items[index]))
            try:
                for value in values:
                    put(buffer, value)
                put(buffer, _END)
            except _Stopped:
                return
            except BaseException as error:  # noqa: BLE001 - handed to the consumer, which re-raises it
                try:
                    put(buffer, _Failure(error))
                except _Stopped:
                    return
            finally:
                getattr(values, "close", lambda: None)()  # ends a decoder subprocess left half read

    threads = [threading.Thread(target=work, name=f"spectrogen-read-{k}", daemon=True) for k in range(max(1, workers))]
    for thread in threads:
        thread.start()
    try:
        for index in range(len(items)):
            with ready:
                ready.wait_for(lambda: index in queues)
                buffer = queues.pop(index)
            while True:
                value = buffer.get()
                if value is _END:
                    break
                if isinstance(value, _Failure):
                    raise value.error
                yield value
            in_flight.release()
    finally:
        stop.set()
        for thread in threads:
            thread.join()
