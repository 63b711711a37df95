"""Reading items in worker processes, in order, a bounded amount ahead of the consumer.

Decoding, resampling, windowing and silence detection are mostly Python-driven numpy/soxr work,
and threads share one interpreter; worker processes use every core. Each worker is forked (the
work function and the source are inherited, nothing is pickled on the way in) and takes a fixed
share of the items, round-robin: worker w produces items w, w + W, w + 2W, ... one after another
into its own bounded queue. The consumer reads item k from the queue of worker k mod W, so it
sees exactly the order of a plain loop, and each worker is at most `depth` values ahead, so
memory stays at a few blocks per worker whatever the number or length of the files.

The workers never touch torch: the consumer keeps the feature computation, and a forked child
that used the parent's torch (or OpenMP) thread pools could hang.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import queue
import traceback
from typing import Callable, Iterable, Iterator, Sequence, TypeVar

I = TypeVar("I")
T = TypeVar("T")

_VALUE, _END, _FAILURE = "value", "end", "failure"
#: seconds between checks that a worker being waited on is still alive
_POLL_SECONDS = 0.5


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
    """Yields everything `produce(item)` yields, item after item in order, produced by `workers` processes.

    The values must be picklable. An exception raised by `produce` is re-raised here, at its
    place in the order (as a RuntimeError with the original traceback when it cannot be
    pickled); stopping early (break, close, an exception in the consumer) stops the workers.
    """
    count = max(1, min(workers, len(items)))
    if not items:
        return
    context = multiprocessing.get_context("fork")
    queues = [context.Queue(maxsize=max(1, depth)) for _ in range(count)]
    processes = [
        context.Process(target=_serve, args=(items, produce, worker, count, queues[worker]),
                        name=f"spectrogen-decode-{worker}", daemon=True)
        for worker in range(count)
    ]
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
                if tag == _END:
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
    while True:
        try:
            return buffer.get(timeout=_POLL_SECONDS)
        except queue.Empty:
            if process.is_alive():
                continue
        try:  # it may have sent its last messages just before exiting
            return buffer.get(timeout=_POLL_SECONDS)
        except queue.Empty:
            raise RuntimeError(f"decoding worker process {process.name} stopped unexpectedly "
                               f"(exit code {process.exitcode})") from None


def _serve(items: Sequence, produce: Callable, worker: int, count: int, buffer) -> None:
    """Body of a worker process: produces items worker, worker + count, ... into `buffer`."""
    gc.freeze()  # a collection would touch, and so copy, every object inherited from the parent
    try:
        for index in range(worker, len(items), count):
            values = iter(produce(items[index]))
            try:
                for value in values:
                    buffer.put((_VALUE, value))
            finally:
                getattr(values, "close", lambda: None)()  # ends a decoder subprocess left half read
            buffer.put((_END, None))
    except BaseException as error:  # noqa: BLE001 - handed to the consumer, which re-raises it
        buffer.put((_FAILURE, _picklable(error)))
    finally:
        buffer.close()
        buffer.join_thread()  # everything sent reaches the pipe before the process exits


def _picklable(error: BaseException) -> BaseException:
    """Returns `error`, or a RuntimeError carrying its traceback when it cannot cross processes."""
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:  # noqa: BLE001 - any pickling problem
        text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        return RuntimeError(f"{type(error).__name__} in a decoding worker process: {error}\n{text}")
