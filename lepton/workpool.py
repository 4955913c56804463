"""Heavy short work (predictions, explanations, evaluations) in worker processes, cached by content.

The Streamlit server serves every session from one interpreter: a picture decoded or a model
run there holds the GIL every other session needs. A `WorkPool` sends such work to a few
worker processes instead, and

- answers a request it has answered before from memory (same key → no work, in any session),
- lets identical requests in flight share one computation,
- says how many requests are ahead of a waiting one, so a page can tell its user it is queued,
- replaces workers that died and retries the request once.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import multiprocessing.connection
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

import numpy as np

CACHE_BYTES = 128 * 2**20  # ~80 photos with every preprocessing step
RETRIES = 1  # a request whose worker died is tried once more on a fresh one


def size_of(value: object) -> int:
    """Roughly the bytes an answer holds: its arrays, strings and bytes, through containers and
    dataclasses (everything else counts 64)."""
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, (bytes, bytearray, str)):
        return len(value)
    if isinstance(value, dict):
        return sum(size_of(key) + size_of(item) for key, item in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return sum(size_of(item) for item in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sum(size_of(getattr(value, item.name)) for item in dataclasses.fields(value))
    return 64


def _start_worker(initializer: Callable | None, initargs: tuple) -> None:
    """Runs in each new worker: it ends with its parent, then the caller's initializer."""
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    if initializer is not None:
        initializer(*initargs)


def _exit_with_parent() -> None:
    # An idle worker waits on its task queue forever, even once the server was killed; the
    # parent's sentinel becomes readable when it dies.
    multiprocessing.connection.wait([multiprocessing.parent_process().sentinel])
    os._exit(0)


@dataclass
class Ticket:
    """One request: its place in the queue and its eventual result."""

    key: Hashable
    number: int  # submission order; 0 for an answer that came from the cache
    future: Future = field(default_factory=Future)
    cached: bool = False

    def done(self) -> bool:
        return self.future.done()

    def result(self, timeout: float | None = None):
        """The answer; re-raises the worker's exception."""
        return self.future.result(timeout)

    def wait(self, timeout: float) -> bool:
        """True once the answer is there, after at most `timeout` seconds."""
        try:
            self.future.exception(timeout)
        except TimeoutError:
            return False
        return True


@dataclass
class PoolStatistics:
    computed: int = 0  # requests that went to a worker
    cache_hits: int = 0  # answered from memory
    shared: int = 0  # joined an identical request in flight
    restarts: int = 0  # times the workers were replaced after one died


class WorkPool:
    """A few worker processes behind a content cache.

    Args:
        workers: worker processes; defaults to the number of CPU cores.
        initializer: called once in each worker (e.g. to import TensorFlow before any request).
        initargs: its arguments.
        cache_bytes: how much the cached answers may take (`size_of`), least recently used
            dropped first.
    """

    def __init__(self, workers: int | None = None, initializer: Callable | None = None,
                 initargs: tuple = (), cache_bytes: int = CACHE_BYTES):
        self.workers = workers or os.cpu_count() or 1
        if self.workers < 1:
            raise ValueError(f"Expected at least one worker, got {workers}.")
        self.statistics = PoolStatistics()
        self._initializer, self._initargs = initializer, initargs
        self._cache: OrderedDict[Hashable, tuple[object, int]] = OrderedDict()
        self._cache_bytes, self._cache_limit = 0, cache_bytes
        self._in_flight: dict[Hashable, Ticket] = {}
        self._pending: dict[int, Ticket] = {}
        self._submitted = 0
        # Re-entrant: a request that finishes at once runs its callback in the submitting thread.
        self._lock = threading.RLock()
        self._executor = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        # Spawned, not forked: the server has threads (and maybe TensorFlow) a fork would copy
        # in whatever state they were.
        return ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start_worker,
                                   initargs=(self._initializer, self._initargs))

    def warm_up(self) -> None:
        """Starts every worker now (they start on demand otherwise)."""
        with self._lock:
            for _ in range(self.workers):
                self._executor.submit(int)

    def submit(self, key: Hashable | None, function: Callable, *args) -> Ticket:
        """Runs `function(*args)` in a worker, unless `key` was answered or is being answered.

        Args:
            key: what identifies the answer (e.g. the model, a content hash of the input and
                the parameters); None never caches. Only successful answers are kept.
            function, args: a module-level function and picklable arguments.
        """
        with self._lock:
            if key is not None:
                if key in self._cache:
                    self._cache.move_to_end(key)
                    self.statistics.cache_hits += 1
                    ticket = Ticket(key, 0, cached=True)
                    ticket.future.set_result(self._cache[key][0])
                    return ticket
                if key in self._in_flight:
                    self.statistics.shared += 1
                    return self._in_flight[key]
            self._submitted += 1
            ticket = Ticket(key, self._submitted)
            self._pending[ticket.number] = ticket
            if key is not None:
                self._in_flight[key] = ticket
            self.statistics.computed += 1
            self._start(ticket, function, args, RETRIES)
        return ticket

    def _start(self, ticket: Ticket, function: Callable, args: tuple, retries: int) -> None:
        executor = self._executor
        try:
            inner = executor.submit(function, *args)
        except (BrokenProcessPool, RuntimeError):
            executor = self._replace(executor)
            inner = executor.submit(function, *args)
        inner.add_done_callback(
            lambda done: self._finished(ticket, done, executor, function, args, retries))

    def _replace(self, broken: ProcessPoolExecutor) -> ProcessPoolExecutor:
        """Fresh workers instead of `broken` (once, however many requests notice it)."""
        if self._executor is broken:
            self.statistics.restarts += 1
            self._executor = self._new_executor()
            broken.shutdown(wait=False, cancel_futures=True)
        return self._executor

    def _finished(self, ticket: Ticket, inner: Future, executor: ProcessPoolExecutor,
                  function: Callable, args: tuple, retries: int) -> None:
        error = (RuntimeError("The work pool was shut down before answering; reload the page.")
                 if inner.cancelled() else inner.exception())
        if isinstance(error, BrokenProcessPool) and retries > 0:
            with self._lock:
                self._replace(executor)
                self._start(ticket, function, args, retries - 1)
            return
        with self._lock:
            self._pending.pop(ticket.number, None)
            if self._in_flight.get(ticket.key) is ticket:
                del self._in_flight[ticket.key]
            if error is None and ticket.key is not None:
                self._remember(ticket.key, inner.result())
        if error is None:
            ticket.future.set_result(inner.result())
        else:
            ticket.future.set_exception(error)

    def _remember(self, key: Hashable, value: object) -> None:
        size = size_of(value)
        if size > self._cache_limit:
            return
        self._cache[key] = (value, size)
        self._cache_bytes += size
        while self._cache_bytes > self._cache_limit:
            _, (_, dropped) = self._cache.popitem(last=False)
            self._cache_bytes -= dropped

    def ahead_of(self, ticket: Ticket) -> int:
        """How many requests submitted before `ticket` are still unanswered (0 when it runs
        or is done; fewer than `workers` means it is being worked on)."""
        with self._lock:
            if ticket.done():
                return 0
            return sum(1 for number in self._pending if number < ticket.number)

    def pending(self) -> int:
        """Requests submitted and not yet answered."""
        with self._lock:
            return len(self._pending)

    def shutdown(self) -> None:
        with self._lock:
            self._executor.shutdown(wait=False, cancel_futures=True)
