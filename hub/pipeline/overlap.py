"""Running the steps of one extract side by side: reading ahead and writing behind (private).

Staging reads (decrypts, parses), computes and writes. Arrow's readers, compute kernels and
Parquet writers, and the keyed-hash kernel, all release the GIL, so a thread that reads the next
batch and threads that write the previous one overlap with the batch being computed, and two
cores are both kept busy. Order is kept: batches come out in the order they were read and are
written in the order they were given, so the output is byte for byte what one thread would write.

Each queue holds at most ``depth`` batches, so memory stays a few batches whatever the file's
size. An error in a thread is raised again in the caller, as the same exception, at its next
call; ``close`` stops the thread and waits for it, so no thread outlives the extract.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

_POLL_SECONDS = 0.1


class _End:
    pass


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


_END = _End()


def _put(items: queue.Queue[object], item: object, stop: threading.Event) -> bool:
    """Put ``item``, waiting for room; False if ``stop`` was set meanwhile."""
    while not stop.is_set():
        try:
            items.put(item, timeout=_POLL_SECONDS)
            return True
        except queue.Full:
            continue
    return False


class ReadAhead(Generic[T]):
    """Iterates ``source`` in a thread, up to ``depth`` items ahead of the caller.

    ``busy`` accumulates the CPU seconds the thread spent producing items (reading), not waiting
    for room; ``waited`` the (wall-clock) seconds the caller spent waiting for an item.
    """

    def __init__(self, source: Iterator[T], *, depth: int = 2, name: str = "hub-read") -> None:
        self._source = source
        self._items: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self.busy = 0.0
        self.waited = 0.0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        source = self._source
        try:
            while not self._stop.is_set():
                started = time.thread_time()
                try:
                    item: object = next(source)
                except StopIteration:
                    item = _END
                self.busy += time.thread_time() - started
                if not _put(self._items, item, self._stop) or item is _END:
                    return
        except BaseException as error:  # handed to the caller, raised there
            _put(self._items, _Failed(error), self._stop)
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()  # a generator's finally (closing the decrypted stream) runs here

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        started = time.perf_counter()
        item = self._items.get()
        self.waited += time.perf_counter() - started
        if item is _END:
            self._items.put(_END)  # later calls end too
            raise StopIteration
        if isinstance(item, _Failed):
            self._items.put(item)
            raise item.error
        return item  # type: ignore[return-value]

    def close(self) -> None:
        """Stop reading and wait for the thread (idempotent)."""
        self._stop.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self._items.get_nowait()  # make room, so a blocked put sees the stop
            self._thread.join(timeout=_POLL_SECONDS)

    def __enter__(self) -> ReadAhead[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class WriteBehind(Generic[T]):
    """Calls ``write(item)`` in a thread for each item given to ``put``, in order, at most
    ``depth`` items behind."""

    def __init__(
        self, write: Callable[[T], None], *, depth: int = 2, name: str = "hub-write"
    ) -> None:
        self._write = write
        self._items: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._items.get()
            if item is _END or self._stop.is_set():
                return
            try:
                self._write(item)  # type: ignore[arg-type]
            except BaseException as error:  # raised again in the caller
                self._error = error
                self._stop.set()
                return

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def put(self, item: T) -> None:
        self._raise()
        if not _put(self._items, item, self._stop):
            self._raise()
            raise RuntimeError("the writer thread stopped")  # pragma: no cover - defensive

    def finish(self) -> None:
        """Wait until every item is written; raise the writer's error, if any."""
        if self._thread.is_alive() and not self._stop.is_set():
            _put(self._items, _END, self._stop)
        self._thread.join()
        self._raise()

    def cancel(self) -> None:
        """Stop writing (items not yet written are dropped) and wait for the thread."""
        self._stop.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self._items.get_nowait()
            with contextlib.suppress(queue.Full):
                self._items.put_nowait(_END)
            self._thread.join(timeout=_POLL_SECONDS)


class Clock:
    """CPU seconds per step for one thread (``time.thread_time``: what the step cost, not how
    long it waited for a core or for another thread), added into ``timings``; a no-op without
    one."""

    def __init__(self, timings: dict[str, float] | None) -> None:
        self.timings = timings
        self._last = time.thread_time()

    def start(self) -> None:
        if self.timings is not None:
            self._last = time.thread_time()

    def lap(self, step: str) -> None:
        if self.timings is not None:
            now = time.thread_time()
            self.add(step, now - self._last)
            self._last = now

    def add(self, step: str, seconds: float) -> None:
        if self.timings is not None:
            self.timings[step] = self.timings.get(step, 0.0) + seconds

    def child(self) -> Clock:
        """A clock for another thread (merge it back with ``merge`` once that thread is done)."""
        return Clock(None if self.timings is None else {})

    def merge(self, other: Clock) -> None:
        for step, seconds in (other.timings or {}).items():
            self.add(step, seconds)
