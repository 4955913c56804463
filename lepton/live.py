"""The store as sessions see it live: shared in memory, read again only for what changed.

One `StoreSnapshot` (the run list every sidebar and selector shows) and one `RunFollower` per
followed run are shared by every session (the app caches them), so ten open tabs cost one small
query per tick, not ten full reads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from lepton.registry import RunStore, finished

MIN_REFRESH_SECONDS = 0.5  # sessions ticking within this window share one read


class StoreSnapshot:
    """Every run of a store, newest first, re-read only when the store changed.

    Each call checks the store's version (two cheap reads); the list itself is read again at
    most every `max_age` seconds however many sessions ask, except after a write by this process
    (a page that just deleted or renamed a run sees it at once). The rows handed out are shared:
    read them, do not change them.
    """

    def __init__(self, store: RunStore, max_age: float = 1.0):
        self.store, self.max_age = store, max_age
        self.reads = 0  # full reads of the run list (the costly part)
        self._runs: list[dict] = []
        self._version: tuple | None = None
        self._read_at = -float("inf")
        self._lock = threading.Lock()

    def runs(self) -> list[dict]:
        """All runs, newest first."""
        with self._lock:
            version = self.store.version()
            if version != self._version:
                # (connection, other processes' commits, this process's changes)
                ours_changed = self._version is None or version[::2] != self._version[::2]
                now = time.monotonic()
                if ours_changed or now - self._read_at >= self.max_age:
                    self._runs = self.store.list_runs()
                    self._version, self._read_at = version, now
                    self.reads += 1
            return self._runs

    def latest(self) -> dict | None:
        runs = self.runs()
        return runs[0] if runs else None

    def finished(self) -> list[dict]:
        """Runs that finished with a model file, newest first."""
        return finished(self.runs())


class RunFollower:
    """The run row, its batch rows and epoch rows, read incrementally."""

    def __init__(self, store: RunStore, run_id: int):
        self.store, self.run_id = store, run_id
        self.run: dict | None = None
        self.batches: list[dict] = []
        self.epochs: list[dict] = []
        self.version = 0  # grows whenever something new was read
        self._lock = threading.Lock()
        self._read_at = 0.0
        self._figures: dict = {}

    def refresh(self) -> dict | None:
        """Reads what is new (at most every MIN_REFRESH_SECONDS); returns the run row."""
        with self._lock:
            now = time.monotonic()
            if self.run is not None and now - self._read_at < MIN_REFRESH_SECONDS:
                return self.run
            self._read_at = now
            run = self.store.get_run(self.run_id)
            after = ((self.batches[-1]["epoch"], self.batches[-1]["step"]) if self.batches
                     else (0, 0))
            new_batches = self.store.batches(self.run_id, after=after)
            new_epochs = self.store.epochs(self.run_id, after=len(self.epochs))
            if new_batches or new_epochs or run != self.run:
                self.batches.extend(new_batches)
                self.epochs.extend(new_epochs)
                self.run = run
                self.version += 1
            return self.run

    def figure(self, name: str, build: Callable[[], object], *parameters) -> object:
        """A figure built once per version of the data (and per `parameters`), then reused."""
        key = (name, *parameters)
        with self._lock:
            cached = self._figures.get(key)
            if cached and cached[0] == self.version:
                return cached[1]
        figure = build()
        with self._lock:
            self._figures[key] = (self.version, figure)
        return figure
