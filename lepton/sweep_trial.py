"""One sweep trial: a real training run on a Dask worker, and its files and rows sent back.

The worker trains with the Train page's code (`lepton.jobs.execute_run`) in a throwaway run
store of its own, then returns everything that store holds for the run. The driver writes it
into its own store. Results, not a shared folder: a Dask cluster's machines need share nothing
but the scheduler, and a trial's files are small (a reference CNN's are ≈3.6 MB).
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

from lepton.i18n import message

EVENT_TOPIC = "lepton-sweep"  # Dask event topic of trial progress (`Client.subscribe_topic`)
STOP_POLL_SECONDS = 0.5


def event_topic(sweep_id: int) -> str:
    return f"{EVENT_TOPIC}-{sweep_id}"


def stop_event_name(sweep_id: int) -> str:
    return f"lepton-sweep-{sweep_id}-stop"


def run_trial(request: dict) -> dict:
    """Trains the run `request` describes on this Dask worker; returns the outcome.

    `request`: sweep_id, trial (number), dataset, model_config, train_config and optionally
    min_accuracy (a floor below which the trial may stop early).
    """
    from distributed import Event, get_worker

    from lepton.host import cpu_model
    from lepton.jobs import execute_run
    from lepton.registry import RunStore
    from lepton.training import set_threads

    try:
        worker = get_worker()
    except ValueError:  # called in a plain process (the overhead benchmark's baseline)
        worker = None
    where = {"worker": worker.address if worker else "this process",
             "host": socket.gethostname(), "pid": os.getpid(), "cpu": cpu_model()}
    topic = event_topic(request["sweep_id"])

    def tell(kind: str, **values) -> None:
        if worker is not None:
            worker.log_event(topic, {"kind": kind, "trial": request["trial"], **where, **values})

    stop = _StopWatch(Event(stop_event_name(request["sweep_id"])) if worker else None)
    early = _EarlyStop(request.get("min_accuracy"), request["train_config"]["epochs"])
    home = Path(tempfile.mkdtemp(prefix="lepton-trial-"))
    try:
        set_threads(int(request["train_config"].get("threads") or 0))
        store = RunStore(home)
        run_id = store.create_run(request["dataset"], request["model_config"],
                                  request["train_config"])
        tell("started")

        def on_event(event: dict) -> None:
            if event["type"] == "epoch":
                early.see(event)
                tell("epoch", epoch=event["epoch"], epochs=request["train_config"]["epochs"],
                     val_accuracy=event.get("val_accuracy"), accuracy=event.get("accuracy"))

        started = time.perf_counter()
        run = execute_run(store, run_id, should_stop=lambda: stop.is_set() or early.stopped,
                          on_event=on_event)
        return {
            "run": {key: run[key] for key in ("status", "reason", "dataset", "model_config",
                                              "train_config", "metrics", "timings")},
            "stopped_early": early.reason if early.stopped else "",
            "epochs": store.epochs(run_id),
            "batches": store.batches(run_id),
            "files": _files(store.run_folder(run_id)),
            "where": where,
            "trial_seconds": time.perf_counter() - started,
        }
    finally:
        stop.close()
        shutil.rmtree(home, ignore_errors=True)


def _files(folder: Path) -> dict[str, bytes]:
    """Every file of a run's folder (model, LiteRT copy, TensorBoard logs) by relative path."""
    return {str(path.relative_to(folder)): path.read_bytes()
            for path in sorted(folder.rglob("*")) if path.is_file()}


class _StopWatch:
    """The sweep's stop event, read from the scheduler twice a second in a thread (training
    asks after every batch; a scheduler round trip per batch would slow it)."""

    def __init__(self, event):
        self._event, self._set, self._done = event, threading.Event(), threading.Event()
        if event is not None:
            threading.Thread(target=self._watch, daemon=True, name="sweep-stop").start()

    def _watch(self) -> None:
        while not self._done.is_set():
            try:
                if self._event.is_set():
                    self._set.set()
                    return
            except Exception:  # the scheduler went away: the worker ends with it anyway
                return
            self._done.wait(STOP_POLL_SECONDS)

    def is_set(self) -> bool:
        return self._set.is_set()

    def close(self) -> None:
        self._done.set()


class _EarlyStop:
    """Stops a trial that cannot reach the accuracy floor.

    Rule: from half-way through its epochs, a trial whose validation accuracy is more than
    `MARGIN` under the floor stops. Accuracy still climbs late in a run, hence the margin and
    the half-way point; a stopped trial is kept, as pruned, with the figure that stopped it.
    """

    MARGIN = 0.05

    def __init__(self, floor: float | None, epochs: int):
        self.floor, self.epochs = floor, epochs
        self.reason = ""

    @property
    def stopped(self) -> bool:
        return bool(self.reason)

    def see(self, event: dict) -> None:
        accuracy = event.get("val_accuracy")
        if self.floor is None or accuracy is None or self.stopped:
            return
        if event["epoch"] * 2 >= self.epochs and event["epoch"] < self.epochs \
                and accuracy < self.floor - self.MARGIN:
            self.reason = message("balance.reason_early", accuracy=f"{accuracy:.1%}",
                                  epoch=event["epoch"], epochs=self.epochs,
                                  margin=f"{self.MARGIN:.0%}", floor=f"{self.floor:.1%}")


def store_outcome(store, run_id: int, outcome: dict) -> dict:
    """Writes a trial's outcome into the driver's run `run_id`; returns the run."""
    folder = store.run_folder(run_id)
    for name, data in outcome["files"].items():
        path = (folder / name).resolve()
        if folder.resolve() not in path.parents:  # a worker's answer names only its own files
            raise ValueError(f"A trial sent back a file outside its run folder: {name!r}.")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    for epoch in outcome["epochs"]:
        store.add_epoch(run_id, epoch)
    store.add_batches(run_id, outcome["batches"])
    run = outcome["run"]
    metrics = {**store.get_run(run_id)["metrics"], **run["metrics"],
               "trained_on": outcome["where"]}
    model_path = folder / "model.keras"
    status = run["status"]
    reason = outcome["stopped_early"] or run["reason"]
    store.update_run(run_id, status=status, reason=reason, dataset=run["dataset"],
                     model_config=run["model_config"], train_config=run["train_config"],
                     metrics=metrics, timings=run["timings"], progress={"stage": status},
                     model_path=str(model_path) if model_path.is_file() else "")
    return store.get_run(run_id)
