"""A sweep as any process sees it: its folder in `LEPTON_HOME/sweeps/ID/`, read without Optuna.

The driver (`lepton.sweeps`) keeps the study in Optuna's storage and, after every change,
writes the whole view to `state.json`: trials, front, pick. The app reads that one small file,
so a page never opens the study nor imports Optuna in the server.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import psutil

from lepton.background import read_json, read_progress, write_json_atomic
from lepton.i18n import message
from lepton.objectives import as_costs, front, recommend

ACTIVE = ("starting", "running", "stopping")
STUDY_FILE = "sweeps.db"


def sweeps_folder(home: str | Path) -> Path:
    return Path(home) / "sweeps"


def sweep_folder(home: str | Path, sweep_id: int) -> Path:
    return sweeps_folder(home) / str(int(sweep_id))


def storage_url(home: str | Path) -> str:
    """The Optuna storage of every sweep of a home (`optuna-dashboard <url>` opens it)."""
    return f"sqlite:///{Path(home).resolve() / STUDY_FILE}"


def study_name(sweep_id: int) -> str:
    return f"lepton-sweep-{int(sweep_id)}"


def new_sweep_folder(home: str | Path) -> int:
    """Reserves the next sweep id (a folder made exclusively, so two starts never share one)."""
    folder = sweeps_folder(home)
    folder.mkdir(parents=True, exist_ok=True)
    taken = [int(path.name) for path in folder.iterdir() if path.name.isdigit()]
    sweep_id = max(taken, default=0) + 1
    while True:
        try:
            (folder / str(sweep_id)).mkdir()
            return sweep_id
        except FileExistsError:
            sweep_id += 1


def this_process() -> dict:
    pid = os.getpid()
    return {"pid": pid, "started": psutil.Process(pid).create_time()}


def _alive(driver: dict | None) -> bool:
    if not driver:
        return False
    try:
        return psutil.Process(driver["pid"]).create_time() == driver["started"] and \
            psutil.Process(driver["pid"]).status() != psutil.STATUS_ZOMBIE
    except (psutil.Error, KeyError, TypeError):
        return False


def _started(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def write_state(home: str | Path, sweep_id: int, state: dict) -> None:
    write_json_atomic(sweep_folder(home, sweep_id) / "state.json", _finite(state))


def read_state(home: str | Path, sweep_id: int) -> dict | None:
    """A sweep's last view; an active one whose driver is gone reads as interrupted."""
    folder = sweep_folder(home, sweep_id)
    state = read_json(folder / "state.json")
    if not isinstance(state, dict):
        spec = read_json(folder / "spec.json")
        if not isinstance(spec, dict):
            return None
        # Started (`lepton.sweep_spec.start_sweep`) but its driver has not written yet?
        starting = read_progress(folder / "progress.json", "sweep")
        status = "starting" if starting and starting["status"] == "running" else "created"
        state = {"sweep_id": int(sweep_id), "status": status, "spec": spec, "trials": [],
                 "driver": {"pid": starting["pid"], "started": _started(starting["pid"])}
                 if status == "starting" else None}
    if state.get("status") in ACTIVE and not _alive(state.get("driver")):
        reason = message("balance.reason_interrupted")
        state = {**state, "status": "interrupted", "reason": str(reason),
                 "reason_message": reason.to_dict()}
    return state


def list_sweeps(home: str | Path) -> list[dict]:
    """Every sweep of a home, newest first."""
    folder = sweeps_folder(home)
    if not folder.is_dir():
        return []
    ids = sorted((int(path.name) for path in folder.iterdir() if path.name.isdigit()),
                 reverse=True)
    states = (read_state(home, sweep_id) for sweep_id in ids)
    return [state for state in states if state is not None]


def request_stop(home: str | Path, sweep_id: int) -> None:
    """Asks a sweep's driver to stop: running trials stop after their current batch."""
    (sweep_folder(home, sweep_id) / "stop-requested").touch()


def stop_requested(home: str | Path, sweep_id: int) -> bool:
    return (sweep_folder(home, sweep_id) / "stop-requested").exists()


def pareto(trials: list[dict], objectives: tuple[str, ...]) -> list[dict]:
    """The feasible measured trials no other feasible trial beats on every objective."""
    candidates = [trial for trial in trials if trial["status"] == "done" and trial["feasible"]
                  and all(trial["values"].get(name) is not None for name in objectives)]
    points = [as_costs(trial["values"], objectives) for trial in candidates]
    return [trial for trial, on_front in zip(candidates, front(points)) if on_front]


def recommended(trials: list[dict], objectives: tuple[str, ...]) -> dict | None:
    """The balanced trial of the front (see `lepton.objectives.recommend`), or None."""
    best = pareto(trials, objectives)
    index = recommend([as_costs(trial["values"], objectives) for trial in best])
    return None if index is None else best[index]


def projection(trials: list[dict], more: int, workers: int, price_per_hour: float) -> dict | None:
    """What `more` trials on `workers` workers would take, from the measured trial times.

    Each worker is taken to be a host like the ones measured, billed at `price_per_hour`
    while the batch runs; trials run `workers` at a time.
    """
    seconds = sorted(trial["trial_seconds"] for trial in trials if trial.get("trial_seconds"))
    if not seconds or more < 1 or workers < 1:
        return None
    mean = sum(seconds) / len(seconds)
    wall = math.ceil(more / workers) * mean
    return {"trials": more, "workers": workers, "measured_trials": len(seconds),
            "mean_trial_seconds": mean, "slowest_trial_seconds": seconds[-1],
            "wall_seconds": wall, "money": workers * wall / 3600 * price_per_hour}


def _finite(value):
    """JSON holds no NaN or infinity: such numbers become None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value
