"""Runs a training end to end into the run store; `JobManager` runs each one in its own process.

The Streamlit server never trains: a page rerun shares the server's interpreter (and its GIL)
with whatever runs there, and would slow a training thread 5–10× while someone watches it.
"""

from __future__ import annotations

import fcntl
import gc
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from lepton.costs import read_rapl_joules
from lepton.i18n import Message
from lepton.model import ModelConfig, layer_table
from lepton.registry import RunStore, is_active
from lepton.train_config import TrainConfig

BATCH_FLUSH_SECONDS = 0.5  # how often per-batch points reach the store (and so the live charts)
LOCK_GRACE_SECONDS = 2.0  # how long a start waits for a finishing worker to let go of the lock


class TrainingBusy(RuntimeError):
    """Another training holds this host's training lock."""


class TrainingLock:
    """One training at a time per `LEPTON_HOME`, across threads and processes (an flock)."""

    def __init__(self, home: Path):
        self.path = Path(home) / "training.lock"
        self._file = None

    def acquire(self, run_hint: str = "", wait_seconds: float = 0.0) -> None:
        """Takes the lock, retrying for up to `wait_seconds`; raises TrainingBusy if held."""
        handle = open(self.path, "a+")
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                handle.close()
                raise TrainingBusy(
                    f"A training is already running on this host ({holder}). Wait for it to "
                    "finish or stop it, then start again."
                ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(run_hint)
        handle.flush()
        self._file = handle

    def hand_over(self) -> int:
        """The lock's file descriptor, for a child process to inherit (`subprocess` pass_fds).

        An flock belongs to the open file, not the process: once the child holds the inherited
        descriptor, `forget` closes ours and the lock lives exactly as long as the child.
        """
        if self._file is None:
            raise RuntimeError("Acquire the training lock before handing it over.")
        return self._file.fileno()

    def forget(self) -> None:
        """Closes this process's handle without unlocking (the child holds the lock now)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    @classmethod
    def adopt(cls, home: Path, descriptor: int) -> TrainingLock:
        """The lock a parent process handed over, in the child."""
        lock = cls(home)
        lock._file = os.fdopen(descriptor, "a+")
        return lock

    def release(self) -> None:
        if self._file is not None:
            self._file.truncate(0)
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


class _StoreWriter:
    """Turns training events into run-store rows and a live progress record."""

    def __init__(self, store: RunStore, run_id: int, epochs: int):
        self.store, self.run_id, self.epochs = store, run_id, epochs
        self.pending: list[dict] = []
        self.started = time.perf_counter()
        self.last_flush = 0.0

    def __call__(self, event: dict) -> None:
        if event["type"] == "batch":
            self.pending.append(event)
            if time.perf_counter() - self.last_flush >= BATCH_FLUSH_SECONDS:
                self.flush(event)
        else:
            self.flush()
            self.store.add_epoch(self.run_id, event)

    def flush(self, latest: dict | None = None) -> None:
        self.store.add_batches(self.run_id, self.pending)
        latest = latest or (self.pending[-1] if self.pending else None)
        self.pending = []
        self.last_flush = time.perf_counter()
        if latest is None:
            return
        done = (latest["epoch"] - 1) * latest["steps"] + latest["step"]
        fraction = done / (self.epochs * latest["steps"])
        elapsed = time.perf_counter() - self.started
        self.store.update_run(self.run_id, progress={
            "stage": "training",
            "epoch": latest["epoch"],
            "epochs": self.epochs,
            "step": latest["step"],
            "steps": latest["steps"],
            "fraction": fraction,
            "elapsed_seconds": elapsed,
            "eta_seconds": elapsed * (1 - fraction) / fraction if fraction else None,
            "loss": latest["loss"],
            "accuracy": latest["accuracy"],
        })


def execute_run(
    store: RunStore,
    run_id: int,
    should_stop: Callable[[], bool] | None = None,
    on_event: Callable[[dict], None] | None = None,
) -> dict:
    """Loads data, trains, evaluates and saves the model of an existing run; returns the run.

    Every outcome ends in the store: done, cancelled (model kept if an epoch finished), or failed
    with the reason. Never raises for training problems.
    """
    import keras

    from lepton.data import load_dataset
    from lepton.evaluation import evaluate
    from lepton.training import fit

    run = store.get_run(run_id)
    train_config = TrainConfig.from_dict(run["train_config"])
    writer = _StoreWriter(store, run_id, train_config.epochs)

    def on_training_event(event: dict) -> None:
        writer(event)
        if on_event:
            on_event(event)

    try:
        store.update_run(run_id, status="running", progress={"stage": "loading data"})
        dataset = load_dataset(run["dataset"], subset=train_config.subset, seed=train_config.seed)
        model_config = ModelConfig.from_dict(
            {**run["model_config"], "input_shape": dataset.input_shape,
             "num_classes": dataset.num_classes}
        )
        store.update_run(
            run_id,
            dataset=dataset.name,
            model_config=model_config.to_dict(),
            metrics={"dataset_source": str(dataset.source), "dataset_note": dataset.note,
                     **_as_recorded("dataset_source", dataset.source),
                     "class_names": list(dataset.class_names),
                     "preprocessing": dataset.preprocessing,
                     "train_samples": int(len(dataset.y_train))},
            progress={"stage": "training", "fraction": 0.0, "epochs": train_config.epochs},
        )
        prune = run["train_config"].get("prune")  # a fine-tuning of a pruned parent
        start_from, extra = None, ()
        if prune:
            from lepton.pruning import PruneSpec, make_callback, start_model

            start_from, extra = start_model(store, prune), (make_callback(PruneSpec(**prune)),)
        rapl_start = read_rapl_joules()
        tensorboard = keras.callbacks.TensorBoard(
            log_dir=str(store.run_folder(run_id) / "logs"), write_graph=False
        )
        result = fit(model_config, train_config, dataset.x_train, dataset.y_train,
                     on_event=on_training_event, should_stop=should_stop,
                     callbacks=(tensorboard, *extra), start_from=start_from)
        rapl_end = read_rapl_joules()
        writer.flush()
        metrics = store.get_run(run_id)["metrics"]
        timings = result.timings()
        if rapl_start is not None and rapl_end is not None and rapl_end >= rapl_start:
            timings["rapl_joules"] = rapl_end - rapl_start
        values = {"status": result.status, "reason": result.reason,
                  "timings": timings, "progress": {"stage": result.status}}
        if result.history and result.status != "failed":
            store.update_run(run_id, progress={"stage": "evaluating"})
            metrics.update(evaluate(result.model, dataset.x_test, dataset.y_test,
                                    dataset.class_names))
            model_path = store.run_folder(run_id) / "model.keras"
            partial = model_path.with_name("model.partial.keras")  # Keras wants the suffix
            try:  # a full disk or a kill mid-save must not leave a half-written model.keras
                result.model.save(partial)
                os.replace(partial, model_path)
            finally:
                partial.unlink(missing_ok=True)
            metrics["model_bytes"] = model_path.stat().st_size
            metrics["params"] = int(result.model.count_params())
            metrics["macs"] = sum(row["macs"] for row in layer_table(result.model))
            values["model_path"] = str(model_path)
            store.update_run(run_id, progress={"stage": "exporting for fast inference"})
            try:  # model.tflite (fp32, LiteRT) answers ~20× faster; the run is fine without it
                from lepton.export import write_fast_model

                metrics.update(write_fast_model(result.model, model_path, dataset.x_test[:200]))
            except Exception as error:
                metrics["tflite_error"] = f"{type(error).__name__}: {str(error)[:500]}"
            if prune:
                from lepton.pruning import pruning_figures

                store.update_run(run_id, progress={"stage": "measuring what pruning bought"})
                metrics.update(pruning_figures(store, prune, result.model, model_path, dataset))
        if result.history:
            last = result.history[-1]
            metrics.update({key: last[key] for key in ("loss", "accuracy", "val_loss",
                                                       "val_accuracy")})
        values["metrics"] = _finite(metrics)
        store.update_run(run_id, **values)
    except Exception as error:  # the run must end as failed, whatever went wrong
        store.update_run(run_id, status="failed", reason=f"{type(error).__name__}: {error}",
                         progress={"stage": "failed"})
    finally:
        keras.backend.clear_session()  # drop this run's graphs so memory does not grow per run
        gc.collect()
    return store.get_run(run_id)


def _finite(values: dict) -> dict:
    """JSON cannot hold NaN: replace non-finite floats with None."""
    return {
        key: None if isinstance(value, float) and not math.isfinite(value) else value
        for key, value in values.items()
    }


WORKER_EXIT_REASONS = {  # how the supervisor describes a worker that died without a last word
    -signal.SIGKILL: "the training process was killed (SIGKILL)",
    -signal.SIGTERM: "the training process was terminated (SIGTERM)",
}


class JobManager:
    """Starts trainings in their own worker process (`python -m lepton.worker`) and watches them.

    One training at a time per `LEPTON_HOME`: this process takes the training lock, hands it to
    the worker and keeps a pipe to it; if this process dies, the worker sees the pipe close and
    stops within a second. The worker writes everything to the run store, which pages poll.
    """

    def __init__(self, store: RunStore):
        self.store = store
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._supervisor: threading.Thread | None = None
        self.run_id: int | None = None

    @property
    def busy(self) -> bool:
        """True while this manager's worker (or its supervisor's last write) is still going."""
        return self._supervisor is not None and self._supervisor.is_alive()

    def start(self, dataset: str, model_config: ModelConfig, train_config: TrainConfig,
              extra: dict | None = None) -> int:
        """Queues a run and starts training it in a new worker process; returns its id.

        `extra` goes into the run's stored training settings beside `train_config` (e.g. a
        pruning spec: `lepton.pruning`).

        Raises:
            TrainingBusy: a training is already running on this host (this process or another).
        """
        with self._lock:
            if self.busy:
                raise TrainingBusy(
                    f"Run {self.run_id} is still training. Stop it or wait until it finishes."
                )
            lock = TrainingLock(self.store.home)
            # A worker that just wrote its run's last row lets go of the lock a moment later.
            lock.acquire(f"started by process {os.getpid()}", wait_seconds=LOCK_GRACE_SECONDS)
            try:
                run_id = self.store.create_run(dataset, model_config.to_dict(),
                                               {**train_config.to_dict(), **(extra or {})})
                self._process = self._spawn(run_id, lock)
            except Exception:
                lock.release()
                raise
            lock.forget()  # the worker holds the lock now; it ends with the worker
            self.run_id = run_id
            self._supervisor = threading.Thread(
                target=self._supervise, args=(run_id, self._process),
                name=f"lepton-supervise-{run_id}", daemon=True,
            )
            self._supervisor.start()
            return run_id

    def _spawn(self, run_id: int, lock: TrainingLock) -> subprocess.Popen:
        descriptor = lock.hand_over()
        log_path = self.store.run_folder(run_id) / "worker.log"
        environment = {**os.environ, "LEPTON_HOME": str(self.store.home),
                       "LEPTON_LOCK_FD": str(descriptor), "PYTHONUNBUFFERED": "1"}
        project = str(Path(__file__).resolve().parent.parent)
        environment["PYTHONPATH"] = os.pathsep.join(
            part for part in (project, environment.get("PYTHONPATH", "")) if part
        )
        with open(log_path, "ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "lepton.worker", str(run_id)],
                stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
                pass_fds=(descriptor,), env=environment,
                # Its own session: a Ctrl-C meant for the app or the CLI reaches the worker
                # as a stop request through them, not as a signal that kills it mid-write.
                start_new_session=True,
            )

    def _supervise(self, run_id: int, process: subprocess.Popen) -> None:
        code = process.wait()
        if process.stdin:
            process.stdin.close()
        run = self.store.get_run(run_id)
        if run is not None and is_active(run):
            reason = WORKER_EXIT_REASONS.get(
                code, f"the training process exited with code {code} before it finished; "
                      f"see {self.store.run_folder(run_id) / 'worker.log'}"
            )
            self.store.update_run(run_id, status="interrupted", reason=reason,
                                  progress={"stage": "interrupted"})

    def stop(self, run_id: int | None = None) -> bool:
        """Asks a training to stop after its current batch (this manager's by default).

        Works for a run started by any process on this host: the request goes through the
        store. Returns False when that run is not active.
        """
        run_id = self.run_id if run_id is None else run_id
        if run_id is None:
            return False
        run = self.store.get_run(run_id)
        if run is None or not is_active(run):
            return False
        self.store.request_stop(run_id)
        return True

    def wait(self, timeout: float | None = None) -> bool:
        """Waits for the worker to finish and its run to be final; True when it has."""
        supervisor = self._supervisor
        if supervisor is not None:
            supervisor.join(timeout)
        return not self.busy

    @property
    def pid(self) -> int | None:
        """The process id of the current (or last) worker."""
        return self._process.pid if self._process else None


def _as_recorded(name: str, text: str) -> dict:
    """{name + "_message": …} for a Message (see `lepton.i18n.recorded`), else nothing."""
    return {f"{name}_message": text.to_dict()} if isinstance(text, Message) else {}
