"""The calibration: the two-stage search, its confirmation round, its process and progress."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from lepton import background
from lepton.background import ProgressFile, ProgressHandler, read_progress
from lepton.fastpath.candidates import (
    SAFE_DEFAULT,
    Candidate,
    default_candidates,
    second_stage_candidates,
)
from lepton.fastpath.judging import _qualified, choose, judge
from lepton.fastpath.measurement import DATASET, EPOCHS, measure
from lepton.fastpath.store import save_calibration

PROGRESS_FILE = "calibration-progress.json"
FINALISTS = 3  # the fastest settings measured a second time before one wins (see `confirm`)


def confirm(rows: list[dict], dataset=None, epochs: int = EPOCHS,
            on_progress: ProgressHandler | None = None, count: int = FINALISTS) -> list[dict]:
    """Measures the `count` fastest rows whose accuracy holds once more; returns all rows.

    On a shared host one lucky round (a neighbour paused) can crown a mediocre setting: the
    finalists' speeds become the mean of their two rounds (`round_samples_per_second`), and
    they get `confirmed`.
    """
    finalists = sorted(_qualified(rows), key=lambda row: -row["samples_per_second"])[:count]
    repeats = measure([Candidate.from_dict(row) for row in finalists], dataset, epochs,
                      on_progress)
    confirmed = {}
    for row, repeat in zip(finalists, repeats):
        if repeat.get("error"):
            continue  # the first round stands
        speeds = [row["samples_per_second"], repeat["samples_per_second"]]
        confirmed[id(row)] = {
            "samples_per_second": sum(speeds) / 2,
            "ms_per_step": (row["ms_per_step"] + repeat["ms_per_step"]) / 2,
            "round_samples_per_second": speeds,
            "confirmed": True,
        }
    return judge([{**row, **confirmed.get(id(row), {})} for row in rows])


def calibration_progress(home: str | Path) -> dict | None:
    """The latest calibration's progress: fraction, text, status (running, done or failed),
    error, pid, started and updated; None before the first calibration.

    A "running" record whose process is gone reads as failed.
    """
    return read_progress(Path(home) / PROGRESS_FILE, "calibration")


def run_calibration(
    home: str | Path,
    candidates: Iterable[Candidate | dict] | None = None,
    on_progress: ProgressHandler | None = None,
    dataset=None,
    epochs: int = EPOCHS,
) -> dict:
    """Measures, chooses and stores this host's fastest execution settings; returns the entry.

    Holds the training lock meanwhile, so that no training competes for the cores. Without
    `candidates` it searches in two stages: `default_candidates()`, then
    `second_stage_candidates` of stage one's winner. Progress also goes to
    `calibration_progress(home)` for pages in other processes.

    Raises:
        lepton.jobs.TrainingBusy: a training (or calibration) holds the lock.
        ValueError: no setting kept the baseline's accuracy (nothing is stored then).
    """
    from lepton.jobs import TrainingLock

    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    lock = TrainingLock(home)
    lock.acquire(f"calibration, process {os.getpid()}")
    # Only now: a refused calibration must not overwrite the progress of the one that runs.
    progress = ProgressFile(Path(home) / PROGRESS_FILE, on_progress)
    started = time.perf_counter()
    try:
        progress(0.0, f"loading {DATASET}")
        if dataset is None:
            from lepton.data import load_dataset

            dataset = load_dataset(DATASET)
        if candidates is None:
            first = default_candidates()
            # Stage two's size before stage one ends, for a progress bar that does not jump.
            planned = len(first) + len(second_stage_candidates(SAFE_DEFAULT)) + FINALISTS
            shares = (len(first) / planned, (planned - FINALISTS) / planned)

            def stage(begin: float, end: float, name: str) -> ProgressHandler:
                return lambda fraction, text: progress(begin + fraction * (end - begin),
                                                       f"{name}: {text}")

            rows = measure(first, dataset, epochs, stage(0.0, shares[0], "stage 1"))
            best = Candidate.from_dict(choose(rows))
            second = [candidate for candidate in second_stage_candidates(best)
                      if candidate not in {Candidate.from_dict(row) for row in rows}]
            rows += measure(second, dataset, epochs, stage(*shares, "stage 2"))
            rows = confirm(judge(rows), dataset, epochs, stage(shares[1], 1.0, "confirming"))
        else:
            rows = measure(candidates, dataset, epochs, progress)
        rows = judge(rows)
        winner = choose(rows)
        for row in rows:
            row["winner"] = row is winner
        entry = save_calibration(home, rows, winner, seconds=time.perf_counter() - started)
        label = Candidate.from_dict(winner).label
        progress.write(1.0, f"done in {entry['seconds']:.0f} s: {label}", status="done")
        return entry
    except BaseException as error:
        progress.write(0.0, "calibration failed", status="failed",
                       error=f"{type(error).__name__}: {error}")
        raise
    finally:
        lock.release()


def start_calibration(home: str | Path, quick: bool = False) -> subprocess.Popen:
    """Starts `python -m lepton.fastpath calibrate` in its own process, for a page.

    Follow it with `calibration_progress(home)`; its output goes to
    `LEPTON_HOME/calibration.log`.

    Raises:
        lepton.jobs.TrainingBusy: a training or calibration holds the lock right now.
    """
    from lepton.jobs import TrainingLock

    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    probe = TrainingLock(home)
    probe.acquire("checking before a calibration")  # raises TrainingBusy early, for the page
    probe.release()
    arguments = ["lepton.fastpath", "calibrate", "--home", str(home)]
    if quick:
        arguments.append("--quick")
    return background.start(arguments, home / "calibration.log", home / PROGRESS_FILE)
