"""The run store: SQLite (WAL) rows for runs and their epochs, one folder of files per run."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import threading
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypedDict

import psutil

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STATUSES = ("queued", "running", "done", "failed", "cancelled", "interrupted")
ACTIVE_STATUSES = ("queued", "running")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    dataset TEXT NOT NULL,
    model_config TEXT NOT NULL,
    train_config TEXT NOT NULL,
    metrics TEXT NOT NULL DEFAULT '{}',
    timings TEXT NOT NULL DEFAULT '{}',
    progress TEXT NOT NULL DEFAULT '{}',
    model_path TEXT NOT NULL DEFAULT '',
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    pid_started REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS epochs (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    loss REAL, accuracy REAL, val_loss REAL, val_accuracy REAL,
    seconds REAL, train_seconds REAL, samples_per_second REAL,
    PRIMARY KEY (run_id, epoch)
);
CREATE TABLE IF NOT EXISTS batches (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    step INTEGER NOT NULL,
    loss REAL, accuracy REAL, seconds REAL,
    PRIMARY KEY (run_id, epoch, step)
);
"""
_JSON_COLUMNS = ("model_config", "train_config", "metrics", "timings", "progress")


class Run(TypedDict):
    """A run as the store hands it out (JSON columns decoded)."""

    id: int
    created: str
    updated: str
    status: str  # one of STATUSES
    reason: str  # why it failed, was cancelled or interrupted
    dataset: str
    model_config: dict
    train_config: dict
    metrics: dict
    timings: dict
    progress: dict
    model_path: str  # "" until it finished with a model
    host: str
    pid: int
    pid_started: float


def is_active(run: Run) -> bool:
    """Queued or training now."""
    return run["status"] in ACTIVE_STATUSES


def is_finished(run: Run) -> bool:
    """Done, with a model file to use."""
    return run["status"] == "done" and bool(run["model_path"])


def finished(runs: list[Run]) -> list[Run]:
    return [run for run in runs if is_finished(run)]


def best(runs: list[Run], metric: str = "test_accuracy") -> Run | None:
    """The finished run with the highest `metric` (runs without it count as lowest; on a tie
    the first in `runs`, i.e. the newest as the store lists them)."""
    candidates = finished(runs)
    if not candidates:
        return None
    return max(candidates, key=lambda run: (run["metrics"].get(metric) is not None,
                                            run["metrics"].get(metric) or 0.0))


def default_home() -> Path:
    """`LEPTON_HOME`, or the git-ignored `lepton_home/` folder of the project."""
    return Path(os.environ.get("LEPTON_HOME") or PROJECT_ROOT / "lepton_home")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _process_started(pid: int) -> float:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return 0.0


class RunStore:
    """All runs of one `LEPTON_HOME`; safe to use from several threads and processes."""

    def __init__(self, home: str | Path | None = None):
        self.home = Path(home) if home else default_home()
        try:
            (self.home / "runs").mkdir(parents=True, exist_ok=True)
            probe = self.home / ".write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as error:
            raise RuntimeError(
                f"LEPTON_HOME {self.home} is not writable ({error.strerror}). Point LEPTON_HOME "
                "at a folder you can write to, or free some disk space."
            ) from error
        self.path = self.home / "lepton.db"
        self._connection: sqlite3.Connection | None = None
        self._connection_pid = 0
        self._connection_inode = 0
        self._connection_lock = threading.RLock()
        self.mark_interrupted()  # the first connection creates the tables

    @contextmanager
    def _connect(self):
        """This process's one connection, in a transaction that commits or rolls back.

        Opened once (not per call: a live view reads several times a second in every session)
        and shared by this process's threads behind a lock; opened again in a forked child, or
        when the database file was replaced or deleted under it (a restored or wiped home).
        """
        with self._connection_lock:
            if not self._connection_is_current():
                if self._connection is not None:
                    self._connection.close()
                connection = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
                connection.row_factory = sqlite3.Row
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA foreign_keys=ON")
                connection.executescript(_SCHEMA)
                self._connection, self._connection_pid = connection, os.getpid()
                self._connection_inode = self.path.stat().st_ino
            with self._connection:  # commits, or rolls back on error
                yield self._connection

    def _connection_is_current(self) -> bool:
        if self._connection is None or self._connection_pid != os.getpid():
            return False
        try:
            return self.path.stat().st_ino == self._connection_inode
        except FileNotFoundError:
            return False

    def run_folder(self, run_id: int) -> Path:
        return self.home / "runs" / str(run_id)

    # Writing --------------------------------------------------------------------------------

    def create_run(self, dataset: str, model_config: dict, train_config: dict,
                   status: str = "queued") -> int:
        """Adds a run owned by this process and returns its id."""
        if status not in STATUSES:
            raise ValueError(f"Unknown status {status!r}; expected one of {STATUSES}.")
        pid = os.getpid()
        now = _now()
        with self._connect() as connection:
            cursor = connection.execute(
                "INSERT INTO runs (created, updated, status, dataset, model_config, train_config,"
                " host, pid, pid_started) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (now, now, status, dataset, json.dumps(model_config), json.dumps(train_config),
                 socket.gethostname(), pid, _process_started(pid)),
            )
            run_id = cursor.lastrowid
        self.run_folder(run_id).mkdir(parents=True, exist_ok=True)
        return run_id

    def update_run(self, run_id: int, **values) -> None:
        """Sets columns of a run; dict values of JSON columns are stored as JSON."""
        if "status" in values and values["status"] not in STATUSES:
            raise ValueError(f"Unknown status {values['status']!r}; expected one of {STATUSES}.")
        unknown = set(values) - {"status", "reason", "dataset", "model_path", *_JSON_COLUMNS}
        if unknown:
            raise ValueError(f"Cannot update run columns {sorted(unknown)}.")
        encoded = {
            key: json.dumps(value) if key in _JSON_COLUMNS else value
            for key, value in values.items()
        }
        encoded["updated"] = _now()
        assignments = ", ".join(f"{key} = ?" for key in encoded)
        with self._connect() as connection:
            connection.execute(
                f"UPDATE runs SET {assignments} WHERE id = ?", (*encoded.values(), run_id)
            )

    def add_epoch(self, run_id: int, record: dict) -> None:
        with self._connect() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO epochs (run_id, epoch, loss, accuracy, val_loss,"
                " val_accuracy, seconds, train_seconds, samples_per_second)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, record["epoch"], record.get("loss"), record.get("accuracy"),
                 record.get("val_loss"), record.get("val_accuracy"), record.get("seconds"),
                 record.get("train_seconds"), record.get("samples_per_second")),
            )

    def add_batches(self, run_id: int, records: list[dict]) -> None:
        if not records:
            return
        with self._connect() as connection:
            connection.executemany(
                "INSERT OR REPLACE INTO batches (run_id, epoch, step, loss, accuracy, seconds)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(run_id, r["epoch"], r["step"], r["loss"], r["accuracy"], r["seconds"])
                 for r in records],
            )

    def claim_run(self, run_id: int) -> None:
        """Makes this process the run's owner: if it dies, the run will read as interrupted."""
        pid = os.getpid()
        with self._connect() as connection:
            connection.execute(
                "UPDATE runs SET pid = ?, pid_started = ?, updated = ? WHERE id = ?",
                (pid, _process_started(pid), _now(), run_id),
            )

    def request_stop(self, run_id: int) -> None:
        """Asks the process training `run_id` to stop after its current batch.

        A file, not a row: the worker checks it several times a second, and a stat is far
        cheaper than a query.
        """
        self._stop_file(run_id).touch()

    def stop_requested(self, run_id: int) -> bool:
        return self._stop_file(run_id).exists()

    def _stop_file(self, run_id: int) -> Path:
        return self.run_folder(run_id) / "stop-requested"

    def delete_run(self, run_id: int) -> None:
        """Removes a run's rows and its folder (model, logs, exports)."""
        if self.get_run(run_id) is None:
            raise ValueError(f"There is no run {run_id}.")
        with self._connect() as connection:
            connection.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        shutil.rmtree(self.run_folder(run_id), ignore_errors=True)

    def mark_interrupted(self) -> list[int]:
        """Marks runs whose owning process is gone as interrupted; returns their ids."""
        host = socket.gethostname()
        interrupted = []
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT id, host, pid, pid_started FROM runs WHERE status IN (?, ?)",
                ACTIVE_STATUSES,
            ).fetchall()
            for row in rows:
                alive = _process_started(row["pid"]) == row["pid_started"] and row["pid_started"]
                if row["host"] == host and not alive:
                    connection.execute(
                        "UPDATE runs SET status = 'interrupted', updated = ?, reason = ?"
                        " WHERE id = ?",
                        (_now(), "the process running it stopped before it finished", row["id"]),
                    )
                    interrupted.append(row["id"])
        return interrupted

    # Reading --------------------------------------------------------------------------------

    @staticmethod
    def _decode(row: sqlite3.Row) -> dict:
        run = dict(row)
        for key in _JSON_COLUMNS:
            run[key] = json.loads(run[key])
        return run

    def get_run(self, run_id: int) -> dict | None:
        with self._connect() as connection:
            row = connection.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return self._decode(row) if row else None

    def latest_run(self) -> dict | None:
        """The newest run, whatever its status (one row: cheap enough to poll)."""
        with self._connect() as connection:
            row = connection.execute("SELECT * FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        return self._decode(row) if row else None

    def version(self) -> tuple:
        """Changes whenever any process wrote to the store; two cheap reads, fine to poll."""
        with self._connect() as connection:
            others = connection.execute("PRAGMA data_version").fetchone()[0]
            return id(connection), others, connection.total_changes

    def count_runs(self) -> int:
        with self._connect() as connection:
            return connection.execute("SELECT COUNT(*) FROM runs").fetchone()[0]

    def list_runs(self, status: str | None = None) -> list[dict]:
        """All runs, newest first (optionally only those with `status`)."""
        query, arguments = "SELECT * FROM runs", ()
        if status:
            query, arguments = query + " WHERE status = ?", (status,)
        with self._connect() as connection:
            rows = connection.execute(query + " ORDER BY id DESC", arguments).fetchall()
        return [self._decode(row) for row in rows]

    def epochs(self, run_id: int, after: int = 0) -> list[dict]:
        """The run's epoch rows, only those after epoch `after` (for incremental reads)."""
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT * FROM epochs WHERE run_id = ? AND epoch > ? ORDER BY epoch",
                (run_id, after),
            ).fetchall()
        return [dict(row) for row in rows]

    def batches(self, run_id: int, after: tuple[int, int] = (0, 0)) -> list[dict]:
        """The run's batch rows in order, only those after (epoch, step) `after`.

        A live chart keeps what it has read and asks only for the new rows each tick.
        """
        epoch, step = after
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT * FROM batches WHERE run_id = ? AND (epoch > ? OR (epoch = ? AND step > ?))"
                " ORDER BY epoch, step",
                (run_id, epoch, epoch, step),
            ).fetchall()
        return [dict(row) for row in rows]

    def resolve(self, reference: str | int) -> dict:
        """A finished run by id, or `latest` / `best` (by test accuracy) among finished runs."""
        if reference in ("latest", "best"):
            runs = finished(self.list_runs("done"))
            if not runs:
                raise ValueError(
                    "There is no finished run yet. Train one first: python -m lepton train"
                )
            return runs[0] if reference == "latest" else best(runs)
        try:
            run_id = int(reference)
        except (TypeError, ValueError):
            raise ValueError(
                f"Expected a run id, 'latest' or 'best', got {reference!r}."
            ) from None
        run = self.get_run(run_id)
        if run is None:
            raise ValueError(f"There is no run {run_id}. See the list with: python -m lepton runs")
        if not is_finished(run):
            raise ValueError(f"Run {run_id} is {run['status']} and has no model to use.")
        return run

