"""Reading items a bounded amount ahead of the consumer, in order: in threads (`read_ahead`; soundfile and soxr release
the GIL), or in forked processes (`read_processes`), process w of W producing items w, w + W, ... (nothing pickled on
the way in; they never touch torch: a forked child that used the parent's thread pools could hang)."""

from __future__ import annotations

import gc
import itertools
import multiprocessing
import os
import pickle
import queue
import threading
import traceback
from contextlib import suppress
from typing import Callable, Iterable, Iterator, Sequence, TypeVar

I = TypeVar("I")
T = TypeVar("T")

#: seconds between checks of the stop flag while a worker thread waits
_POLL = 0.05
# the tags of what a worker sends: a value, the end of an item, or the exception that ended it
_VALUE, _DONE, _FAILURE = "value", "end", "failure"
#: seconds between checks that a worker process being waited on is still alive
_POLL_SECONDS = 0.5


class _Stopped(Exception):
    """The consumer went away; the worker leaves its item unfinished."""


class _Budget:
    """Bytes of produced values not yet taken by the consumer, and which item it is waiting for."""

    def __init__(self, limit: int | None, stop: threading.Event):
        self.limit = limit
        self.used = 0
        self.current = 0  # index of the item the consumer reads now
        self.stop = stop
        self.changed = threading.Condition()

    def take(self, index: int, nbytes: int) -> None:
        """Waits until `nbytes` more fit (at once for the consumer's current item); raises _Stopped."""
        with self.changed:
            while self.limit is not None and index != self.current and self.used and self.used + nbytes > self.limit:
                if self.stop.is_set():
                    raise _Stopped
                self.changed.wait(_POLL)
            self.used += nbytes

    def give(self, nbytes: int) -> None:
        with self.changed:
            self.used -= nbytes
            self.changed.notify_all()

    def advance(self, index: int) -> None:
        with self.changed:
            self.current = index
            self.changed.notify_all()


def read_ahead(items: Sequence[I], produce: Callable[[I], Iterable[T]], *, workers: int = 2,
               items_ahead: int = 4, depth: int = 8, budget: int | None = None,
               size: Callable[[T], int] = lambda value: 0) -> Iterator[T]:
    """Yields everything `produce(item)` yields, item after item, produced by `workers` threads: at most `items_ahead`
    items ahead, `depth` values of one item waiting, at most `budget` bytes by `size` (but for the item the consumer
    waits for). An exception of `produce` is re-raised here, in order; stopping early stops the workers."""
    stop = threading.Event()
    claims = itertools.count()  # next() on it is atomic: each item is claimed once
    in_flight = threading.Semaphore(max(1, items_ahead))
    bytes_ahead = _Budget(budget, stop)
    queues: dict[int, queue.Queue] = {}
    ready = threading.Condition()

    def put(buffer: queue.Queue, tag: str, value, index: int, nbytes: int = 0) -> None:
        if nbytes:
            bytes_ahead.take(index, nbytes)
        while not stop.is_set():
            with suppress(queue.Full):
                buffer.put((tag, value, nbytes), timeout=_POLL)
                return
        raise _Stopped

    def work() -> None:
        while not stop.is_set():
            if not in_flight.acquire(timeout=_POLL):
                continue
            index = next(claims)
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
                    put(buffer, _VALUE, value, index, size(value))
                put(buffer, _DONE, None, index)
            except _Stopped:
                return
            except BaseException as error:  # noqa: BLE001 - handed to the consumer, which re-raises it
                try:
                    put(buffer, _FAILURE, error, index)
                except _Stopped:
                    return
            finally:
                getattr(values, "close", lambda: None)()  # ends a decoder subprocess left half read

    threads = [threading.Thread(target=work, name=f"spectrogen-read-{k}", daemon=True) for k in range(max(1, workers))]
    for thread in threads:
        thread.start()
    try:
        for index in range(len(items)):
            bytes_ahead.advance(index)
            with ready:
                ready.wait_for(lambda: index in queues)
                buffer = queues.pop(index)
            while True:
                tag, value, nbytes = buffer.get()
                if nbytes:
                    bytes_ahead.give(nbytes)
                if tag == _DONE:
                    break
                if tag == _FAILURE:
                    raise value
                yield value
            in_flight.release()
    finally:
        stop.set()
        for thread in threads:
            thread.join()


def default_workers() -> int:
    """Returns the number of cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def processes_available() -> bool:
    """Whether worker processes can be forked here (Linux and other POSIX systems)."""
    return "fork" in multiprocessing.get_all_start_methods()


def read_processes(items: Sequence[I], produce: Callable[[I], Iterable[T]], *, workers: int = 2,
                   depth: int = 8) -> Iterator[T]:
    """Yields everything `produce(item)` yields (picklable values), item after item in order, produced by `workers`
    processes; as `read_ahead` otherwise (an unpicklable exception becomes a RuntimeError)."""
    count = max(1, min(workers, len(items)))
    if not items:
        return
    context = multiprocessing.get_context("fork")
    queues = [context.Queue(maxsize=max(1, depth)) for _ in range(count)]
    processes = [context.Process(target=_serve, args=(items, produce, worker, count, queues[worker]),
                                 name=f"spectrogen-decode-{worker}", daemon=True) for worker in range(count)]
    gc.freeze()  # objects made so far stay out of the collector: pages shared with the workers stay shared
    try:
        for process in processes:
            process.start()
    finally:
        gc.unfreeze()
    try:
        for index in range(len(items)):
            worker = index % count
            while True:
                tag, value = _get(queues[worker], processes[worker])
                if tag == _DONE:
                    break
                if tag == _FAILURE:
                    raise value
                yield value
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join()
        for buffer in queues:
            buffer.close()
            buffer.cancel_join_thread()


def _get(buffer, process) -> tuple:
    """Returns the next message of `process`; raises RuntimeError when it died without sending one."""
    while process.is_alive():
        with suppress(queue.Empty):
            return buffer.get(timeout=_POLL_SECONDS)
    try:  # it may have sent its last messages just before exiting
        return buffer.get(timeout=_POLL_SECONDS)
    except queue.Empty:
        raise RuntimeError(f"decoding worker process {process.name} stopped unexpectedly "
                           f"(exit code {process.exitcode})") from None


def _serve(items: Sequence, produce: Callable, worker: int, count: int, buffer) -> None:
    gc.freeze()  # a collection would touch, and so copy, every object inherited from the parent
    try:
        for index in range(worker, len(items), count):
            values = iter(produce(items[index]))
            try:
                for value in values:
                    buffer.put((_VALUE, value))
            finally:
                getattr(values, "close", lambda: None)()  # ends a decoder subprocess left half read
            buffer.put((_DONE, None))
    except BaseException as error:  # noqa: BLE001 - handed to the consumer, which re-raises it
        try:
            pickle.loads(pickle.dumps(error))
        except Exception:  # noqa: BLE001 - it cannot cross processes: a RuntimeError carries its traceback
            text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
            error = RuntimeError(f"{type(error).__name__} in a decoding worker process: {error}\n{text}")
        buffer.put((_FAILURE, error))
    finally:
        buffer.close()
        buffer.join_thread()  # everything sent reaches the pipe before the process exits

