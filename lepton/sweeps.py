"""Multi-objective sweeps: Optuna asks for setups, Dask trains them, the run store keeps them.

Optuna's TPE sampler, not NSGA-II: NSGA-II's first generation (50 setups by default) is
random, so the 12–24 trials a sweep on one host affords would be a random search; TPE models
the trials so far after a few random ones. The driver (this module, in the CLI's or a
background process, never in the app's server) asks for one setup per free worker thread
(`constant_liar` keeps parallel asks apart), trains each on Dask (`lepton.sweep_trial`) and
tells Optuna the measured figures and the limits they break.
"""

from __future__ import annotations

import functools
import logging
import math
import queue
import time
import uuid
import warnings
from datetime import UTC, datetime
from pathlib import Path

from lepton.costs import load_settings
from lepton.data import describe_datasets
from lepton.i18n import message
from lepton.objectives import OBJECTIVES, figures, violations
from lepton.querystate import to_query
from lepton.recipes import default_config
from lepton.registry import RunStore, default_home
from lepton.study_rows import keep_reason, recorded_reason, trial_row
from lepton.sweep_spec import SweepError, read_spec
from lepton.sweep_state import (
    pareto,
    recommended,
    stop_requested,
    storage_url,
    study_name,
    this_process,
    write_state,
)
from lepton.sweep_trial import event_topic, run_trial, stop_event_name, store_outcome
from lepton.train_fields import configs_from_values, train_fields

CONNECT_SECONDS = 5  # how long to try a scheduler before saying it cannot be reached
# A Dask worker samples every thread's stack each 10 ms and the GIL each 1 ms, wakes its event
# loop every 20 ms and starts its processes with one OpenMP thread and an eager malloc trim:
# together a trial ran ~15 % slower there than the same trial in a plain process
# (benchmarks/sweeps.py). Measured times are objectives, so the local cluster's workers run
# like the Train page's worker.
MEASURING_WORKER = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.gil.enabled": False,
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.admin.tick.interval": "500ms",
    "distributed.nanny.pre-spawn-environ": {},
}
POLL_SECONDS = 0.5


def connect(scheduler: str):
    """A Dask client: of the cluster at `scheduler`, or of a new LocalCluster on this host.

    The local cluster has one worker process, one trial at a time, so that each trial's time
    is measured with the host to itself, as on the Train page, and its workers do not profile
    themselves (`MEASURING_WORKER`; workers of another cluster: set the same in their Dask
    config, e.g. DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False).

    Raises:
        SweepError: the scheduler did not answer within `CONNECT_SECONDS`.
    """
    import dask
    from distributed import Client, LocalCluster

    if not scheduler:
        with dask.config.set(MEASURING_WORKER):  # the workers take the config at their start
            cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.ERROR)
        return Client(cluster), cluster
    try:
        return Client(scheduler, timeout=f"{CONNECT_SECONDS}s"), None
    except (OSError, TimeoutError) as error:
        raise SweepError(
            f"Could not reach the Dask scheduler at {scheduler} within {CONNECT_SECONDS} s "
            f"({error}). Start one with `dask scheduler` and workers with `dask worker "
            f"{scheduler}`, or leave the scheduler out to use a local cluster."
        ) from None


class _Driver:
    """One run of a sweep's ask-train-tell loop (a fresh one on every resume)."""

    def __init__(self, sweep_id: int, home: Path, on_change=None):
        import optuna

        self.sweep_id, self.home, self.on_change = sweep_id, home, on_change
        self.spec = read_spec(sweep_id, home)
        self.space = self.spec.search_space
        self.store = RunStore(home)
        self.settings = load_settings(home)
        shape = next((item for item in describe_datasets(home)
                      if item["name"] == self.spec.dataset), {})
        self.shape = (shape.get("input_shape", (28, 28, 1)), shape.get("num_classes", 10))
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.study = optuna.create_study(
            study_name=study_name(sweep_id), storage=storage_url(home), load_if_exists=True,
            directions=[OBJECTIVES[name].direction for name in self.spec.objectives],
            sampler=self._sampler())
        self.study.set_user_attr("lepton_spec", self.spec.to_dict())
        if self.spec.sampler == "grid" and not self.study.get_trials(deepcopy=False):
            for setup in self.space.grid(self.spec.seed):
                self.study.enqueue_trial(setup)
        self.live: dict[int, dict] = {}  # trial number → what this driver knows of it now
        self.events: queue.Queue = queue.Queue()
        self.started = time.monotonic()
        self.status, self.reason, self.cluster_view = "starting", "", {}
        self.fields = train_fields(default_config(home))  # for the pick's Train-page link
        self.importance = self._importance()  # worked out again only when a trial is told

    def _sampler(self):
        import optuna

        if self.spec.sampler == "grid":
            # Every setup queued in the study in a seeded order (kept across resumes), asked
            # for in turn. Not Optuna's GridSampler: it calls `study.stop()` when the grid is
            # spent, which raises outside `study.optimize` (ask-and-tell).
            return optuna.samplers.RandomSampler(seed=self.spec.seed)
        with warnings.catch_warnings():  # multivariate TPE is marked experimental
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(
                seed=self.spec.seed, multivariate=True, group=True, constant_liar=True,
                n_startup_trials=max(3, min(10, self.spec.trials // 3)))

    # The loop ---------------------------------------------------------------------------

    def run(self) -> dict:
        from distributed import Event

        self._adopt_orphans()
        if self._remaining() <= 0:  # resumed with its budget spent: no cluster to start
            self.status = "done"
            self._save()
            return self.state()
        client, cluster = connect(self.spec.scheduler)
        try:
            self.cluster_view = {"scheduler": client.scheduler.address,
                                 "local": cluster is not None}
            client.subscribe_topic(event_topic(self.sweep_id),
                                   lambda event: self.events.put(event[1]))
            stop = Event(stop_event_name(self.sweep_id), client=client)
            stop.clear()
            self.status = "running"
            self._loop(client, stop)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
        self._save()
        return self.state()

    def _loop(self, client, stop) -> None:
        from distributed import wait

        in_flight: dict = {}  # future → trial
        stopping = False
        while True:
            if not stopping and stop_requested(self.home, self.sweep_id):
                stopping, self.status = True, "stopping"
                stop.set()
            timed_out = self.spec.timeout_seconds is not None and \
                time.monotonic() - self.started >= self.spec.timeout_seconds
            slots = max(1, sum(client.nthreads().values()))
            while not stopping and not timed_out and len(in_flight) < slots \
                    and self._remaining() > 0:
                submitted = self._submit(client)
                if submitted:
                    in_flight[submitted[0]] = submitted[1]
            if not in_flight:
                break
            try:
                done = wait(list(in_flight), timeout=POLL_SECONDS,
                            return_when="FIRST_COMPLETED").done
            except TimeoutError:
                done = set()
            self._drain_events()
            for future in done:
                self._finish(in_flight.pop(future), future)
            self._save()
        if stopping:
            self.status, self.reason = "stopped", message("balance.reason_stopped")
        else:
            self.status = "done"
            if self._remaining() > 0:
                self.reason = message("balance.reason_timeout",
                                      seconds=f"{self.spec.timeout_seconds:g}")

    def _remaining(self) -> int:
        """Trials still to ask for: the budget less every trial that ended, except those a
        dead driver left unfinished (they are asked again)."""
        import optuna

        counted = [trial for trial in self.study.get_trials(deepcopy=False)
                   if not trial.user_attrs.get("interrupted")
                   and trial.state != optuna.trial.TrialState.WAITING]  # a queued grid setup
        budget = self.spec.trials
        if self.spec.sampler == "grid":  # a grid has no more setups than its size
            budget = min(budget, self.space.size())
        return budget - len(counted)

    def _submit(self, client):
        trial = self.study.ask()
        values = self.space.suggest(trial)
        entry = {"number": trial.number, "params": dict(trial.params), "setup": values,
                 "status": "queued", "attempts": 0, "worker": "", "reason": ""}
        self.live[trial.number] = entry
        try:
            model_config, train_config = configs_from_values(values, *self.shape)
        except ValueError as error:  # a setup that builds no model is a failed trial
            self._fail(trial, entry, message("balance.reason_no_model", reason=str(error)))
            return None
        run_id = self.store.create_run(self.spec.dataset, model_config.to_dict(),
                                       train_config.to_dict())
        self.store.update_run(run_id, metrics={"sweep": {"id": self.sweep_id,
                                                         "trial": trial.number}})
        trial.set_user_attr("run_id", run_id)
        trial.set_user_attr("setup", values)
        entry["run_id"] = run_id
        request = {"sweep_id": self.sweep_id, "trial": trial.number,
                   "dataset": self.spec.dataset, "model_config": model_config.to_dict(),
                   "train_config": train_config.to_dict(),
                   "min_accuracy": self.spec.limits.get("min_accuracy")}
        # A unique key: a long-lived scheduler remembers keys, and a resumed sweep's trial
        # must never be answered with an earlier result.
        future = client.submit(run_trial, request, pure=False,
                               key=f"{study_name(self.sweep_id)}-trial-{trial.number}-"
                                   f"{uuid.uuid4().hex[:8]}")
        return future, trial

    def _drain_events(self) -> None:
        while True:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                return
            entry = self.live.get(event.get("trial"))
            if entry is None or entry["status"] not in ("queued", "running"):
                continue
            if event["kind"] == "started":
                entry["attempts"] += 1
                if entry["attempts"] > 1:
                    entry["reason"] = message("balance.reason_retried", worker=event["worker"],
                                              dead=entry["worker"])
                entry.update(status="running", worker=event["worker"], cpu=event["cpu"],
                             worker_pid=event["pid"], epoch=0)
                self.store.update_run(entry["run_id"], status="running",
                                      progress={"stage": "training", "worker": event["worker"]})
            elif event["kind"] == "epoch":
                entry.update(epoch=event["epoch"], epochs=event["epochs"])
                self.store.update_run(entry["run_id"], progress={
                    "stage": "training", "epoch": event["epoch"], "epochs": event["epochs"],
                    "fraction": event["epoch"] / event["epochs"], "worker": event["worker"]})

    def _finish(self, trial, future) -> None:
        import optuna

        entry = self.live[trial.number]
        if future.status != "finished":
            error = future.exception() if future.status == "error" else None
            reason = _failure_text(error, entry)
            self.store.update_run(entry["run_id"], status="failed", reason=reason,
                                  progress={"stage": "failed"})
            self._fail(trial, entry, reason)
            return
        outcome = future.result()
        run = store_outcome(self.store, entry["run_id"], outcome)
        measured = figures(run, self.settings)
        entry.update(figures=measured, trial_seconds=outcome["trial_seconds"],
                     worker=outcome["where"]["worker"], cpu=outcome["where"]["cpu"],
                     reason=run["reason"] or entry["reason"])
        for name in ("figures", "worker", "cpu", "trial_seconds"):
            trial.set_user_attr(name, entry[name])
        values = [measured[name] for name in self.spec.objectives]
        if run["status"] != "done" or any(value is None for value in values):
            state = "pruned" if outcome["stopped_early"] else \
                "stopped" if run["status"] == "cancelled" else "failed"
            missing = [name for name, value in zip(self.spec.objectives, values) if value is None]
            entry["status"] = state
            entry["reason"] = entry["reason"] or (
                message("balance.reason_ended", status=run["status"]) if run["status"] != "done"
                else message("balance.reason_unmeasured", figures=", ".join(missing)))
            keep_reason(trial.set_user_attr, entry["reason"])
            self.study.tell(trial, state=optuna.trial.TrialState.PRUNED if state == "pruned"
                            else optuna.trial.TrialState.FAIL)
            return
        over = violations(measured, self.spec.limits)
        for name, value in over.items():
            trial.set_constraint(name, value if math.isfinite(value) else 1e30)
        entry.update(status="done", values=dict(zip(self.spec.objectives, values)),
                     violations=over, feasible=all(value <= 0 for value in over.values()))
        self.study.tell(trial, values)
        self.importance = self._importance()

    def _fail(self, trial, entry: dict, reason: str) -> None:
        import optuna

        entry.update(status="failed", reason=reason)
        keep_reason(trial.set_user_attr, reason)
        self.study.tell(trial, state=optuna.trial.TrialState.FAIL)

    def _adopt_orphans(self) -> None:
        """Trials a dead driver left running end as failed (and are asked for again)."""
        import optuna

        for trial in self.study.get_trials(deepcopy=False,
                                           states=(optuna.trial.TrialState.RUNNING,)):
            reason = message("balance.reason_orphan")
            # A finished trial's attributes have no public setter; the storage's is stable.
            set_attribute = functools.partial(self.study._storage.set_trial_user_attr,
                                              trial._trial_id)
            set_attribute("interrupted", True)
            keep_reason(set_attribute, reason)
            self.study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
            run_id = trial.user_attrs.get("run_id")
            run = self.store.get_run(run_id) if run_id else None
            if run is not None and run["status"] in ("queued", "running"):
                self.store.update_run(run_id, status="interrupted", reason=reason,
                                      progress={"stage": "interrupted"})

    # The view ---------------------------------------------------------------------------

    def trials(self) -> list[dict]:
        """Every trial of the study (earlier drivers' too), as the page and the CLI show it."""
        rows = []
        import optuna

        for trial in self.study.get_trials(deepcopy=False):
            if trial.state == optuna.trial.TrialState.WAITING:  # a grid setup not asked yet
                continue
            live = self.live.get(trial.number)
            if live is not None:
                rows.append({**live, "run_id": live.get("run_id")})
                continue
            rows.append(trial_row(trial, self.spec.objectives))
        return rows

    def state(self) -> dict:
        trials = [recorded_reason(trial, "reason") for trial in self.trials()]
        objectives = self.spec.objectives
        front = pareto(trials, objectives)
        pick = recommended(trials, objectives)
        return {
            "sweep_id": self.sweep_id, "status": self.status, **recorded_reason({}, "reason",
                                                                           self.reason),
            "spec": self.spec.to_dict(), "driver": {**this_process(), **self.cluster_view},
            "updated": datetime.now(UTC).isoformat(timespec="seconds"),
            "elapsed_seconds": time.monotonic() - self.started,
            "sampler": "Optuna GridSampler" if self.spec.sampler == "grid"
            else "Optuna TPE (multivariate, constant liar)", "study": study_name(
                self.sweep_id), "storage": storage_url(self.home),
            "trials": trials, "pareto": [trial["run_id"] for trial in front],
            "recommended": None if pick is None else {
                "run_id": pick["run_id"], "params": pick["params"], "values": pick["values"],
                "link": to_query(pick["setup"], self.fields) if pick.get("setup") else {}},
            "importance": self.importance,
        }

    def _importance(self) -> dict:
        """Each objective's parameter importances (Optuna's default evaluator, PED-ANOVA),
        once at least five trials are measured and some parameter varies.

        PED-ANOVA explains what reaches *low* target values, so each objective goes in signed
        as a cost (accuracy negated).
        """
        import optuna

        complete = self.study.get_trials(deepcopy=False,
                                         states=(optuna.trial.TrialState.COMPLETE,))
        if len(complete) < 5 or not self.space.dimensions:
            return {}
        result = {}
        for index, name in enumerate(self.spec.objectives):
            sign = OBJECTIVES[name].sign
            try:
                with warnings.catch_warnings():  # its reminder of the above
                    warnings.simplefilter("ignore", UserWarning)
                    result[name] = optuna.importance.get_param_importances(
                        self.study,
                        target=lambda trial, index=index, sign=sign: sign * trial.values[index])
            except (ValueError, RuntimeError):  # e.g. every trial tried the same values
                return {}
        return result

    def _save(self) -> None:
        state = self.state()
        write_state(self.home, self.sweep_id, state)
        if self.on_change:
            self.on_change(state)


def _failure_text(error, entry: dict) -> str:
    from distributed.scheduler import KilledWorker

    if isinstance(error, KilledWorker):
        return message("balance.reason_killed", tries=entry["attempts"],
                       worker=entry["worker"] or "?")
    if error is None:
        return message("balance.reason_lost")
    return f"{type(error).__name__}: {error}"


def run_sweep(sweep_id: int, home: str | Path | None = None, on_change=None) -> dict:
    """Runs (or resumes) a stored sweep to the end of its budget; returns its final view.

    On this host's own cluster the sweep holds the training lock, so a Train-page training
    cannot share the CPU with a trial and distort both figures.

    Raises:
        SweepError: the scheduler cannot be reached, or another training holds the host.
    """
    from lepton.jobs import TrainingBusy, TrainingLock

    home = Path(home or default_home())
    driver = _Driver(sweep_id, home, on_change)
    lock = None
    if not driver.spec.scheduler:
        lock = TrainingLock(home)
        try:
            lock.acquire(f"sweep {sweep_id}, process {this_process()['pid']}")
        except TrainingBusy as error:
            raise SweepError(str(error)) from None
    try:
        driver._save()
        return driver.run()
    except SweepError as error:
        driver.status, driver.reason = "failed", str(error)
        driver._save()
        raise
    finally:
        if lock is not None:
            lock.release()
