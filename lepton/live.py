"""A run followed live: its rows kept in memory, only new rows read from the store each tick.

One `RunFollower` per run is shared by every session watching it (the app caches them), so ten
open tabs cost one small query per tick, not ten full reads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from lepton.registry import RunStore

MIN_REFRESH_SECONDS = 0.5  # sessions ticking within this window share one read


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
